#include "platform/options.h"

#include <cstdlib>
#include <mutex>

#include "base/format.h"

namespace numaslab::detail {

namespace {

Options g_options;
char g_problem[160];
std::once_flag g_once;

const char* default_of(const char* name) {
  for (const OptionInfo& o : kOptionTable)
    if (__builtin_strcmp(o.name, name) == 0) return o.default_value;
  return "";
}

const char* get(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : default_of(name);
}

int get_int(const char* name, int lo, int hi) {
  const char* v = get(name);
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > hi) {
    if (!g_problem[0])
      format(g_problem, sizeof g_problem, "%s=\"%s\" is not a number in %d..%d; using %s", name, v,
             lo, hi, default_of(name));
    return static_cast<int>(std::strtol(default_of(name), nullptr, 10));
  }
  return static_cast<int>(x);
}

bool get_bool(const char* name) { return get_int(name, 0, 1) != 0; }

void parse() {
  g_options.topology = get("NUMASLAB_TOPOLOGY");
  g_options.sysfs_root = get("NUMASLAB_SYSFS_ROOT");
  g_options.watch_ms = get_int("NUMASLAB_WATCH_MS", 0, 3600000);
  g_options.reap = get_bool("NUMASLAB_REAP");
  g_options.reap_ms = get_int("NUMASLAB_REAP_MS", 1, 3600000);
  g_options.release_delay_ms = get_int("NUMASLAB_RELEASE_DELAY_MS", 0, 3600000);
  g_options.publish = get_bool("NUMASLAB_PUBLISH");
  g_options.lockcheck = get_bool("NUMASLAB_LOCKCHECK");
  g_options.verbose = get_bool("NUMASLAB_VERBOSE");
  g_options.rseq = get_bool("NUMASLAB_RSEQ");
  g_options.cpu_cache_bytes = get_int("NUMASLAB_CPU_CACHE_BYTES", 0, 1 << 30);
  const char* check = get("NUMASLAB_CHECK");
  if (__builtin_strcmp(check, "full") == 0) {
    g_options.check_full = true;
  } else {
    g_options.check_full = false;
    if (__builtin_strcmp(check, "fast") != 0 && !g_problem[0])
      format(g_problem, sizeof g_problem, "NUMASLAB_CHECK=\"%s\" is not fast or full; using fast",
             check);
  }
}

}  // namespace

const Options& options() {
  std::call_once(g_once, parse);
  return g_options;
}

const char* options_problem() {
  options();
  return g_problem[0] ? g_problem : nullptr;
}

}  // namespace numaslab::detail
