// The C API's version and statistics entry points (the numbers live in
// stats/totals.h).
#include <cerrno>

#include "base/fork_gate.h"
#include "cache/registry.h"
#include "numaslab/numaslab.h"
#include "runtime/runtime.h"
#include "stats/totals.h"

using namespace numaslab::detail;

// The same definition as in numaslab_c.cc: the public handle is a Cache.
struct numaslab_cache : Cache {};

extern "C" {

const char* numaslab_version(void) { return NUMASLAB_VERSION; }

int numaslab_cache_stats(const numaslab_cache* c, struct numaslab_cache_stats* out) {
  GateSection gate;
  if (!c || !out) return -EINVAL;
  ensure_started();
  cache_stats(const_cast<numaslab_cache*>(c), out);
  return 0;
}

int numaslab_stats(struct numaslab_stats* out) {
  GateSection gate;
  if (!out) return -EINVAL;
  ensure_started();
  process_stats(out);
  return 0;
}

}  // extern "C"
