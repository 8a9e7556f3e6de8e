// The C API: argument checking and translation to the layers below.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "base/check.h"
#include "base/fork_gate.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "cache/tune.h"
#include "cache/verify.h"
#include "hotplug/hotplug.h"
#include "hotplug/watcher.h"
#include "numaslab/numaslab.h"
#include "page/page_allocator.h"
#include "page/page_map.h"
#include "platform/options.h"
#include "reap/reaper.h"
#include "runtime/runtime.h"
#include "stats/slabinfo.h"

using namespace numaslab;
using namespace numaslab::detail;

struct numaslab_cache : Cache {};

namespace {

// Entry points that take the registry mutex: called from under a numaslab
// lock (a constructor, say), they fail naming themselves.
void entry(const char* api) { validator_assert_not_held(LockRank::kRegistry, api); }

Cache* as_cache(numaslab_cache* c, const char* api) {
  NS_CHECK(c, "%s: NULL cache", api);
  return static_cast<Cache*>(c);
}
}  // namespace

extern "C" {

int numaslab_init(const char* spec) {
  GateSection gate;
  char err[200];
  if (!spec || !*spec) {
    // No preference: whatever is running is fine.
    if (booted()) return 0;
    spec = options().topology;
  }
  int rc = runtime_init(spec, err, sizeof err);
  if (rc != 0) warn("numaslab_init: %s", err);
  return rc;
}

numaslab_cache* numaslab_cache_create(const char* name, size_t size, size_t align, unsigned flags,
                                      void (*ctor)(void*)) {
  entry("numaslab_cache_create");
  GateSection gate;
  if (!ensure_started()) return nullptr;  // errno ENOMEM
  return static_cast<numaslab_cache*>(cache_create(name, size, align, flags, ctor));
}

int numaslab_cache_destroy(numaslab_cache* c) {
  entry("numaslab_cache_destroy");
  GateSection gate;
  if (!c) return -EINVAL;
  return cache_destroy(as_cache(c, "numaslab_cache_destroy"));
}

// numaslab_cache_alloc, numaslab_cache_free, numaslab_kmalloc and
// numaslab_kfree are the fast paths themselves (fast_path_x86_64.S).

void* numaslab_cache_alloc_node(numaslab_cache* c, int node) {
  NS_CALLER_SITE;
  GateSection gate;
  services_retry();
  return cache_alloc_node(as_cache(c, "numaslab_cache_alloc_node"), node);
}

int numaslab_cache_shrink(numaslab_cache* c) {
  entry("numaslab_cache_shrink");
  GateSection gate;
  return cache_shrink(as_cache(c, "numaslab_cache_shrink"));
}

const char* numaslab_cache_name(const numaslab_cache* c) { return c ? c->name : nullptr; }
size_t numaslab_cache_object_size(const numaslab_cache* c) { return c ? c->object_size : 0; }

void* numaslab_kmalloc_node(size_t size, int node) {
  NS_CALLER_SITE;
  GateSection gate;
  if (!ensure_started()) return nullptr;  // errno ENOMEM
  return kmalloc_node(size, node);
}
void* numaslab_kmalloc_aligned(size_t size, size_t align, int node) {
  NS_CALLER_SITE;
  GateSection gate;
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  if (!ensure_started()) return nullptr;  // errno ENOMEM
  if (node >= topology().num_nodes()) {
    errno = EINVAL;
    return nullptr;
  }
  return kmalloc_aligned(size, align, node < 0 ? -1 : node);
}
namespace {

// Clears [p, p + size) with stores of 16, 8, 4 or 1 bytes, the last one
// ending at p + size (overlapping the one before): no call for the small
// blocks calloc mostly sees. The empty asm keeps the compiler from turning
// the loop back into a memset call.
inline void clear_small(void* p, std::size_t size) {
  auto* b = static_cast<unsigned char*>(p);
  if (size >= 16) {
    const unsigned char zero[16] = {};
    for (std::size_t i = 0; i + 16 < size; i += 16) {
      std::memcpy(b + i, zero, 16);
      asm("" : : "r"(b + i) : "memory");
    }
    std::memcpy(b + size - 16, zero, 16);
  } else if (size >= 8) {
    const std::uint64_t zero = 0;
    std::memcpy(b, &zero, 8);
    std::memcpy(b + size - 8, &zero, 8);
  } else if (size >= 4) {
    const std::uint32_t zero = 0;
    std::memcpy(b, &zero, 4);
    std::memcpy(b + size - 4, &zero, 4);
  } else {
    for (std::size_t i = 0; i < size; ++i) b[i] = 0;
  }
}

// Up to this size clear_small clears; above, memset.
constexpr std::size_t kClearInline = 256;

// Out of line: the small path saves no registers for it. `site` is the
// caller of numaslab_kzalloc.
__attribute__((noinline)) void* kzalloc_pinned(size_t size, void* site) {
  SitePin pin(site);
  if (size <= kKmallocMaxCached) {
    void* p = numaslab_kmalloc(size);
    if (p) std::memset(p, 0, size);
    return p;
  }
  // Above the largest class a block may already read as zero (kmalloc.h).
  GateSection gate;
  if (!ensure_started()) return nullptr;  // errno ENOMEM
  return kzalloc_large(size);
}

}  // namespace

void* numaslab_kzalloc(size_t size) {
  // A small block without call-site recording: the kmalloc fast path and
  // inline stores, nothing else.
  if (NS_LIKELY(size <= kClearInline && !g_debug_sites)) {
    void* p = numaslab_kmalloc(size);
    if (NS_LIKELY(p != nullptr)) clear_small(p, size);
    return p;
  }
  return kzalloc_pinned(size, __builtin_return_address(0));
}
size_t numaslab_ksize(const void* p) {
  GateSection gate;
  return ksize(p);
}

int numaslab_num_nodes(void) {
  GateSection gate;
  ensure_started();
  return topology().num_nodes();
}
int numaslab_num_possible_cpus(void) {
  GateSection gate;
  ensure_started();
  return topology().possible_cpus();
}
int numaslab_cpu_to_node(int cpu) {
  GateSection gate;
  ensure_started();
  if (cpu < 0 || cpu >= topology().possible_cpus()) return -EINVAL;
  return topology().cpu_to_node(cpu);
}
int numaslab_cpu_online(int cpu) {
  GateSection gate;
  ensure_started();
  if (cpu < 0 || cpu >= topology().possible_cpus()) return -EINVAL;
  return topology().cpu_online(cpu) ? 1 : 0;
}
int numaslab_current_cpu(void) {
  GateSection gate;
  ensure_started();
  return current_cpu();
}
int numaslab_current_node(void) {
  GateSection gate;
  ensure_started();
  return local_node();
}
int numaslab_node_of(const void* obj) {
  GateSection gate;
  PageDesc* d = page_lookup(obj);
  if (!d || d->kind == PageKind::kFree || d->kind == PageKind::kFreeTail ||
      d->kind == PageKind::kHeader)
    return -EINVAL;
  return d->node;
}
int numaslab_bind_thread_to_cpu(int cpu) {
  GateSection gate;
  ensure_started();
  return bind_thread_to_cpu(cpu);
}
const char* numaslab_topology_mode(void) {
  ensure_started();
  return topology().mode_name();
}

const char* numaslab_slots_policy(void) {
  ensure_started();
  return slots_policy_name();
}

int numaslab_cpu_up(int cpu) {
  entry("numaslab_cpu_up");
  GateSection gate;
  ensure_started();
  return hotplug_cpu_up(cpu);
}
int numaslab_cpu_down(int cpu) {
  entry("numaslab_cpu_down");
  GateSection gate;
  ensure_started();
  return hotplug_cpu_down(cpu);
}

void numaslab_get_hotplug_stats(struct numaslab_hotplug_stats* out) {
  GateSection gate;
  if (!out) return;
  ensure_started();
  HotplugStats s = hotplug_stats();
  out->ups = s.ups;
  out->downs = s.downs;
  out->canceled = s.canceled;
  out->last_cpu_of_node_downs = s.last_cpu_of_node_downs;
  out->sim_migrations = sim_migrations();
}

size_t numaslab_node_bytes(int node) {
  GateSection gate;
  ensure_started();
  if (node < 0 || node >= topology().num_nodes()) return 0;
  PageAllocatorStats s = page_allocator_stats(node);
  return s.pages_in_use * kPageSize + s.huge_bytes;
}

int numaslab_watch_poll(void) {
  GateSection gate;
  ensure_started();
  return watch_poll();
}

size_t numaslab_slabinfo(char* buf, size_t len) {
  entry("numaslab_slabinfo");
  GateSection gate;
  ensure_started();
  if (!buf) len = 0;  // as snprintf(NULL, 0): only the length
  return slabinfo_text(buf, len);
}

int numaslab_tune(const char* name, long limit, long batchcount, long shared) {
  entry("numaslab_tune");
  GateSection gate;
  ensure_started();
  return tune_by_name(name, limit, batchcount, shared);
}

int numaslab_slabinfo_write(const char* line) {
  entry("numaslab_slabinfo_write");
  GateSection gate;
  ensure_started();
  return tune_line(line);
}

size_t numaslab_reap(void) {
  entry("numaslab_reap");
  GateSection gate;
  ensure_started();
  return reap_now();
}

size_t numaslab_slabinfo_json(char* buf, size_t len) {
  entry("numaslab_slabinfo_json");
  GateSection gate;
  ensure_started();
  if (!buf) len = 0;
  return slabinfo_json(buf, len, services_status());
}

int numaslab_publish(int on) {
  GateSection gate;
  ensure_started();
  if (!on) {
    publication_stop();
    return 0;
  }
  return publication_start();
}

int numaslab_leak_report(int fd) {
  entry("numaslab_leak_report");
  GateSection gate;
  const std::uint64_t n = leak_report(fd, false);
  return n > static_cast<std::uint64_t>(INT32_MAX) ? INT32_MAX : static_cast<int>(n);
}

int numaslab_verify(char* buf, size_t len) {
  entry("numaslab_verify");
  GateSection gate;
  ensure_started();
  char scratch[1];
  if (!buf || len == 0) {
    buf = scratch;
    len = sizeof scratch;
  }
  return verify_all(buf, len);
}

}  // extern "C"
