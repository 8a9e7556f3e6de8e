#include "base/check.h"

#include <cstdarg>
#include <cstdlib>

#include "base/format.h"

namespace numaslab::detail {

std::atomic<bool> g_expensive_checks{false};

namespace {
void emit(const char* prefix, const char* fmt, va_list ap) {
  char buf[512];
  BufWriter w(buf, sizeof buf - 1);
  w.put(prefix);
  w.vprintf(fmt, ap);
  std::size_t n = w.size();
  buf[n++] = '\n';
  write_all(2, buf, n);
}
}  // namespace

void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit("numaslab: fatal: ", fmt, ap);
  va_end(ap);
  std::abort();
}

void warn(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit("numaslab: ", fmt, ap);
  va_end(ap);
}

void assert_failed(const char* expr, const char* file, int line) {
  fatal("assertion failed: %s at %s:%d", expr, file, line);
}

}  // namespace numaslab::detail
