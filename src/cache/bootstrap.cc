// Start-up of the core: topology, page allocator, the cache of caches and
// kmalloc caches, then the switch to self-hosted metadata.
//
// Order (the kernel's kmem_cache_init, simplified):
//  1. "kmem_cache" (the cache of caches) lives in static storage with static
//     node lists; with no per-CPU arrays yet, every cache allocates straight
//     from its node lists.
//  2. kmalloc caches are created smallest first, their descriptors from the
//     cache of caches. Classes up to the one holding a NodeLists use static
//     node lists; larger classes get node lists from kmalloc_metadata.
//  3. The static node lists are replaced by kmalloc'ed copies (a slab list is
//     head/tail pointers, so a move is a copy).
//  4. Every cache gets its per-CPU arrays and alien sets (shared arrays come
//     at a node's first flush).
//
// Start-up is transactional: if any step fails (out of memory), everything
// built so far is dropped — the caches are forgotten and every segment is
// unmapped, since nothing has been handed out yet — and a later call starts
// from scratch. The background services are runtime/'s.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/check.h"
#include "base/format.h"
#include "base/sanitizer.h"
#include "cache/cpu_up_down.h"
#include "cache/internal.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "cpu/rseq_slots.h"
#include "page/page_allocator.h"
#include "platform/options.h"

namespace numaslab::detail {

namespace {

Registry g_registry;
char g_slots_why[128];
std::uint32_t g_slot_count = 0;

// Every CPU number the kernel may report (its possible CPUs): the fast paths
// index slots with it unchecked.
int kernel_possible_cpus() {
  CpuMask possible;
  if (read_sysfs_cpulist("devices/system/cpu/possible", &possible) && possible.last() >= 0)
    return possible.last() + 1;
  return kMaxCpus;
}
Cache* g_cache_cache = nullptr;

alignas(kCacheLine) char g_cache_cache_storage[Cache::slots_offset() + sizeof(CpuSlot) * kMaxCpus];

// Static node lists for the bootstrap caches: [node][0] is the cache of
// caches, [node][1 + cls] the kmalloc class cls (only classes up to the
// NodeLists class). Node-major: a machine's few nodes touch a page or two of
// it, not one page per cache.
constexpr int kMaxBootCaches = 16;
alignas(kCacheLine) char g_boot_lists_storage[kMaxNodes][kMaxBootCaches][sizeof(NodeLists)];

NodeLists* boot_lists(int which, int node) {
  return reinterpret_cast<NodeLists*>(g_boot_lists_storage[node][which]);
}

void install_boot_lists(Cache* c, int which) {
  Topology& t = topology();
  for (int n = 0; n < t.num_nodes(); ++n) {
    auto* nl = new (boot_lists(which, n)) NodeLists;
    nl->init(n, c->name);
    c->nodes[n].store(nl, std::memory_order_release);
  }
  for (int n = 0; n < t.num_nodes(); ++n) update_free_limit(c, n);
}

// Moves a cache's node lists out of static storage into kmalloc'ed memory.
bool self_host_lists(Cache* c) NS_NO_THREAD_SAFETY_ANALYSIS {
  for (int n = 0; n < topology().num_nodes(); ++n) {
    NodeLists* old = c->node(n);
    void* mem = kmalloc_metadata(sizeof(NodeLists), n);
    if (!mem) return false;
    auto* nl = new (mem) NodeLists;
    nl->init(n, c->name);
    nl->partial = old->partial;
    nl->full = old->full;
    nl->free = old->free;
    nl->free_objects = old->free_objects;
    nl->free_limit = old->free_limit;
    nl->colour_next = old->colour_next;
    nl->free_touched = old->free_touched;
    nl->surplus = old->surplus;
    nl->stats = old->stats;
    nl->next_reap = old->next_reap;
    c->nodes[n].store(nl, std::memory_order_release);
  }
  return true;
}

int bootstrap() NS_REQUIRES(registry().mutex) {
  NS_INTERNAL_ALLOCATION;  // everything here is numaslab's own metadata
  Topology& t = topology();
  page_allocator_init(t.num_nodes(), t.bind_memory_to_nodes());

  // 1. The cache of caches.
  const std::size_t desc_size = Cache::bytes_for(static_cast<int>(slot_count()));
  SlabGeometry geo;
  NS_CHECK(compute_geometry(desc_size, kCacheLine, 0, &geo),
           "numaslab: cannot size the cache of caches (%zu bytes)", desc_size);
  g_cache_cache =
      cache_construct(g_cache_cache_storage, "kmem_cache", desc_size, kCacheLine, 0, nullptr, geo);
  install_boot_lists(g_cache_cache, 0);
  registry_link(g_cache_cache);

  // 2. kmalloc classes, smallest first.
  const int lists_class = size_class(sizeof(NodeLists));
  NS_CHECK(lists_class + 2 <= kMaxBootCaches, "numaslab: NodeLists too large for bootstrap");
  for (int cls = 0; cls < kNumKmallocClasses; ++cls) {
    char name[kCacheNameMax];
    format(name, sizeof name, "kmalloc-%zu", class_size(cls));
    const std::size_t size = class_size(cls);
    const std::size_t align = class_align(cls);
    DebugLayout debug;
    NS_CHECK(cache_geometry(size, align, kPackTight, &geo, &debug), "numaslab: cannot size %s",
             name);
    void* mem = cache_alloc(g_cache_cache);
    if (!mem) return -ENOMEM;
    Cache* c = cache_construct(mem, name, size, align, 0, nullptr, geo, &debug);
    c->is_kmalloc = true;
    kmalloc_set_cache(cls, c);
    if (cls <= lists_class) {
      install_boot_lists(c, 1 + cls);
    } else {
      for (int n = 0; n < t.num_nodes(); ++n)
        if (cache_prepare_node(c, n) != 0) return -ENOMEM;
    }
    registry_link(c);
  }

  // 3. Self-hosted node lists for the bootstrap caches.
  if (!self_host_lists(g_cache_cache)) return -ENOMEM;
  for (int cls = 0; cls <= lists_class; ++cls)
    if (!self_host_lists(kmalloc_cache(cls))) return -ENOMEM;

  // 4. Per-CPU arrays and alien sets for every cache.
  for (Cache* c = registry().head; c; c = c->next) {
    for (int cpu = 0; cpu < t.possible_cpus(); ++cpu) {
      if (t.cpu_online(cpu) && cache_prepare_cpu(c, cpu) != 0) return -ENOMEM;
    }
  }
  // 5. The fast path's size table.
  kmalloc_publish_table();
  return 0;
}

// Undoes a failed bootstrap: nothing was handed out, so the caches are
// forgotten (their descriptors, arrays and node lists all live in segments or
// static storage) and every segment is unmapped.
void bootstrap_rollback() NS_REQUIRES(registry().mutex) {
  registry().state.store(static_cast<int>(BootState::kNone), std::memory_order_release);
  registry().head = nullptr;
  for (int cls = 0; cls < kNumKmallocClasses; ++cls) kmalloc_set_cache(cls, nullptr);
  g_cache_cache = nullptr;
  reset_cpu_cache_bytes();
  page_allocator_reset();
}

}  // namespace

Registry& registry() { return g_registry; }
std::uint32_t slot_count() { return g_slot_count; }
Cache* cache_cache() { return g_cache_cache; }

const char* slots_reason() { return g_slots_why; }

int boot(const TopologySpec& parsed, const char* spec, char* err, std::size_t errlen) {
  LockGuard<Mutex> g(registry().mutex);
  if (booted()) {
    if (spec == nullptr || spec[0] == '\0') return 0;
    if (std::strcmp(spec, topology().spec_text()) == 0) return 0;
    if (err)
      format(err, errlen, "already initialised with topology \"%s\"", topology().spec_text());
    return -EBUSY;
  }
  if (options().lockcheck) set_lock_validation(true);
  if (!topology().init(parsed, err, errlen)) return -EINVAL;
  const int kernel_cpus = kernel_possible_cpus();
  if (kernel_cpus > kMaxCpus) {
    if (err)
      format(err, errlen, "the kernel reports %d possible CPUs; numaslab supports %d", kernel_cpus,
             kMaxCpus);
    return -EINVAL;
  }
  g_slot_count = static_cast<std::uint32_t>(
      kernel_cpus > topology().possible_cpus() ? kernel_cpus : topology().possible_cpus());
  g_check_full = options().check_full;
  // Before the first internal allocation; no debug cache exists yet (a
  // later one sets it again, debug_hooks.cc).
  g_debug_sites = options().debug != 0;
  if constexpr (kDebug) g_expensive_checks.store(g_check_full, std::memory_order_relaxed);
  set_cpu_cache_budget(options().cpu_cache_bytes);
  set_keep_free_bytes(static_cast<std::size_t>(options().keep_free_bytes));
  set_surplus_room(static_cast<std::uint64_t>(options().keep_free_bytes));
  // A memory checker (valgrind, ASan) must see every object handed out.
  const char* checker = "";
  const bool tools = tools_init(&checker);
  // Before any cache exists: the fast paths read the policy without a lock.
  slots_select(topology().mode() != TopologyMode::kSim && options().rseq, !g_check_full && !tools,
               g_slots_why, sizeof g_slots_why);
  int rc = bootstrap();
  if (rc != 0) {
    bootstrap_rollback();
    if (err) format(err, errlen, "out of memory during start-up");
    return rc;
  }
  g_registry.state.store(static_cast<int>(BootState::kFull), std::memory_order_release);
  return 1;
}

}  // namespace numaslab::detail
