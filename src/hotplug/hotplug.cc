#include "hotplug/hotplug.h"

#include <cerrno>

#include "cache/cpu_up_down.h"
#include "cache/registry.h"

namespace numaslab::detail {

namespace {

HotplugStats g_stats;  // guarded by: registry mutex

// UP_CANCELED and DEAD share this path.
void cpu_dead_locked(int cpu) NS_REQUIRES(registry().mutex) {
  const int node = topology().cpu_to_node(cpu);
  for (Cache* c = registry().head; c; c = c->next) cache_cpu_dead(c, cpu);
  // Second pass: pass 1 freed arrays into other caches, which may have left
  // their slabs on this node empty; shrink only now that everything is back.
  for (Cache* c = registry().head; c; c = c->next) cache_shrink_node(c, node);
}

bool valid_cpu(int cpu) { return cpu >= 0 && cpu < topology().possible_cpus(); }

}  // namespace

int hotplug_cpu_up(int cpu) {
  if (!valid_cpu(cpu)) return -EINVAL;
  LockGuard<Mutex> g(registry().mutex);
  Topology& t = topology();
  if (t.cpu_online(cpu)) return -EALREADY;
  const int node = t.cpu_to_node(cpu);
  // UP_PREPARE, pass 1: node lists first, so the arrays allocated in pass 2
  // with kmalloc_node(node) find the kmalloc caches' lists on that node.
  bool ok = true;
  for (Cache* c = registry().head; c && ok; c = c->next) ok = cache_prepare_node(c, node) == 0;
  for (Cache* c = registry().head; c && ok; c = c->next) ok = cache_prepare_cpu(c, cpu) == 0;
  if (!ok) {
    cpu_dead_locked(cpu);
    ++g_stats.canceled;
    return -ENOMEM;
  }
  // ONLINE.
  t.set_cpu_online(cpu, true);
  for (Cache* c = registry().head; c; c = c->next) update_free_limit(c, node);
  ++g_stats.ups;
  return 0;
}

int hotplug_cpu_down(int cpu) {
  if (!valid_cpu(cpu)) return -EINVAL;
  LockGuard<Mutex> g(registry().mutex);
  Topology& t = topology();
  if (!t.cpu_online(cpu)) return -EALREADY;
  if (t.online_cpus() <= 1) return -EBUSY;
  const int node = t.cpu_to_node(cpu);
  // Stop using the CPU: from here on no thread picks it, sim-mode threads
  // bound to it migrate at their next operation, and cache_cpu_dead's slot
  // lock waits for any operation still inside its arrays.
  t.set_cpu_online(cpu, false);
  if (t.online_cpus_on_node(node) == 0) ++g_stats.last_cpu_of_node_downs;
  cpu_dead_locked(cpu);
  ++g_stats.downs;
  return 0;
}

HotplugStats hotplug_stats() {
  LockGuard<Mutex> g(registry().mutex);
  return g_stats;
}

}  // namespace numaslab::detail
