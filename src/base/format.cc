#include "base/format.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace numaslab::detail {

void BufWriter::put(char c) {
  ++wanted_;
  if (len_ + 1 < cap_) buf_[len_++] = c;
  terminate();
}

void BufWriter::put(const char* s) { put_n(s, s ? std::strlen(s) : 0); }

void BufWriter::put_n(const char* s, std::size_t n) {
  wanted_ += n;
  std::size_t room = cap_ > len_ + 1 ? cap_ - len_ - 1 : 0;
  std::size_t k = n < room ? n : room;
  if (k) std::memcpy(buf_ + len_, s, k);
  len_ += k;
  terminate();
}

void BufWriter::put_u64(std::uint64_t v, unsigned base, int width, bool left, char pad) {
  char tmp[24];
  int n = 0;
  do {
    unsigned d = static_cast<unsigned>(v % base);
    tmp[n++] = static_cast<char>(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  const int digits = n;
  if (!left)
    for (int i = digits; i < width; ++i) put(pad);
  while (n) put(tmp[--n]);
  if (left)
    for (int i = digits; i < width; ++i) put(' ');
}

void BufWriter::put_i64(std::int64_t v, int width, bool left, char pad) {
  if (v >= 0) {
    put_u64(static_cast<std::uint64_t>(v), 10, width, left, pad);
    return;
  }
  const std::uint64_t mag = 0 - static_cast<std::uint64_t>(v);
  if (pad == '0' && !left) {
    // printf puts the sign before the zeros: "%05d" of -42 is "-0042".
    put('-');
    put_u64(mag, 10, width > 1 ? width - 1 : 0, false, '0');
    return;
  }
  char tmp[24];
  BufWriter w(tmp, sizeof tmp);
  w.put('-');
  w.put_u64(mag);
  int n = static_cast<int>(w.size());
  if (!left)
    for (int i = n; i < width; ++i) put(' ');
  put_n(tmp, w.size());
  if (left)
    for (int i = n; i < width; ++i) put(' ');
}

void BufWriter::put_ptr(const void* p) {
  put("0x");
  put_u64(reinterpret_cast<std::uintptr_t>(p), 16);
}

void BufWriter::printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}

void BufWriter::vprintf(const char* fmt, va_list ap) {
  for (const char* p = fmt; *p; ++p) {
    if (*p != '%') {
      put(*p);
      continue;
    }
    ++p;
    bool left = false;
    char pad = ' ';
    for (;; ++p) {
      if (*p == '-')
        left = true;
      else if (*p == '0')
        pad = '0';
      else
        break;
    }
    int width = 0;
    while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    int longs = 0;
    bool size_t_mod = false;
    for (;; ++p) {
      if (*p == 'l')
        ++longs;
      else if (*p == 'z')
        size_t_mod = true;
      else
        break;
    }
    auto get_unsigned = [&]() -> std::uint64_t {
      if (size_t_mod) return va_arg(ap, std::size_t);
      if (longs >= 2) return va_arg(ap, unsigned long long);
      if (longs == 1) return va_arg(ap, unsigned long);
      return va_arg(ap, unsigned);
    };
    auto get_signed = [&]() -> std::int64_t {
      if (size_t_mod) return static_cast<std::int64_t>(va_arg(ap, std::size_t));
      if (longs >= 2) return va_arg(ap, long long);
      if (longs == 1) return va_arg(ap, long);
      return va_arg(ap, int);
    };
    switch (*p) {
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        int n = static_cast<int>(std::strlen(s));
        if (!left)
          for (int i = n; i < width; ++i) put(' ');
        put_n(s, static_cast<std::size_t>(n));
        if (left)
          for (int i = n; i < width; ++i) put(' ');
        break;
      }
      case 'd':
      case 'i':
        put_i64(get_signed(), width, left, pad);
        break;
      case 'u':
        put_u64(get_unsigned(), 10, width, left, pad);
        break;
      case 'x':
        put_u64(get_unsigned(), 16, width, left, pad);
        break;
      case 'p':
        put_ptr(va_arg(ap, const void*));
        break;
      case 'c':
        put(static_cast<char>(va_arg(ap, int)));
        break;
      case '%':
        put('%');
        break;
      case '\0':
        return;
      default:
        put('%');
        put(*p);
        break;
    }
  }
}

std::size_t format(char* buf, std::size_t cap, const char* fmt, ...) {
  BufWriter w(buf, cap);
  va_list ap;
  va_start(ap, fmt);
  w.vprintf(fmt, ap);
  va_end(ap);
  return w.wanted();
}

void write_all(int fd, const char* s, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::write(fd, s, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += k;
    n -= static_cast<std::size_t>(k);
  }
}

}  // namespace numaslab::detail
