// numaslab — non-allocating text formatting.
//
// Contract: BufWriter appends into a caller-owned buffer and never writes past
// it (output is truncated, always NUL-terminated when capacity > 0).
// format() understands a printf subset: flags '-' and '0', a decimal width,
// length modifiers l/ll/z, and conversions s d i u x p c %. Nothing here
// allocates, takes a lock or calls into libc stdio, so it is safe inside the
// allocator, in signal handlers and in fatal-error paths.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>

namespace numaslab::detail {

class BufWriter {
 public:
  BufWriter(char* buf, std::size_t cap) : buf_(buf), cap_(cap) { terminate(); }

  void put(char c);
  void put(const char* s);
  void put_n(const char* s, std::size_t n);
  void put_u64(std::uint64_t v, unsigned base = 10, int width = 0, bool left = false,
               char pad = ' ');
  void put_i64(std::int64_t v, int width = 0, bool left = false, char pad = ' ');
  void put_ptr(const void* p);
  void printf(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void vprintf(const char* fmt, va_list ap);

  // Characters that were requested, including any that did not fit.
  std::size_t wanted() const { return wanted_; }
  std::size_t size() const { return len_; }
  bool truncated() const { return wanted_ > len_; }
  const char* c_str() const { return buf_; }

 private:
  void terminate() {
    if (cap_ > 0) buf_[len_ < cap_ ? len_ : cap_ - 1] = '\0';
  }
  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
  std::size_t wanted_ = 0;
};

// snprintf-like; returns the length the full output would have had.
std::size_t format(char* buf, std::size_t cap, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Writes the whole string to a file descriptor with write(2), retrying on EINTR.
void write_all(int fd, const char* s, std::size_t n);

}  // namespace numaslab::detail
