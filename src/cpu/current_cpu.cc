#include <sched.h>

#include <atomic>
#include <cerrno>

#include "base/check.h"
#include "cpu/cpu_slots.h"
#include "platform/platform.h"

namespace numaslab::detail {

namespace {
Topology g_topology;
std::atomic<unsigned> g_round_robin{0};
std::atomic<std::uint64_t> g_migrations{0};
__attribute__((tls_model("initial-exec"))) thread_local int t_vcpu = -1;

// Picks an online CPU: the next one on `prefer_node` after `after` if any,
// else round-robin over all online CPUs.
int pick_online_cpu(int prefer_node, int after) {
  Topology& t = g_topology;
  const int n = t.possible_cpus();
  if (prefer_node >= 0) {
    for (int i = 1; i <= n; ++i) {
      int c = (after + i) % n;
      if (t.cpu_to_node(c) == prefer_node && t.cpu_online(c)) return c;
    }
  }
  unsigned start = g_round_robin.fetch_add(1, std::memory_order_relaxed);
  for (int i = 0; i < n; ++i) {
    int c = static_cast<int>((start + static_cast<unsigned>(i)) % static_cast<unsigned>(n));
    if (t.cpu_online(c)) return c;
  }
  return 0;  // unreachable: the last online CPU can never go down
}

__attribute__((noinline)) int sim_assign() {
  int old = t_vcpu;
  int c;
  if (old < 0) {
    c = pick_online_cpu(-1, 0);
  } else {
    c = pick_online_cpu(g_topology.cpu_to_node(old), old);
    g_migrations.fetch_add(1, std::memory_order_relaxed);
  }
  t_vcpu = c;
  return c;
}
}  // namespace

Topology& topology() { return g_topology; }

int current_cpu() {
  if (g_topology.mode() == TopologyMode::kSim) {
    int c = t_vcpu;
    if (NS_LIKELY(c >= 0 && g_topology.cpu_online(c))) return c;
    return sim_assign();
  }
  // One call per LockedSlots operation: no indirect call while the platform
  // is the real one (platform/platform.h).
  int c = NS_LIKELY(!platform_replaced()) ? ::sched_getcpu() : platform().getcpu();
  if (NS_UNLIKELY(c < 0 || c >= g_topology.possible_cpus())) c = 0;
  return c;
}

int bind_thread_to_cpu(int cpu) {
  if (g_topology.mode() != TopologyMode::kSim) return -EINVAL;
  if (cpu < 0 || cpu >= g_topology.possible_cpus()) return -EINVAL;
  if (!g_topology.cpu_online(cpu)) return -ENODEV;
  t_vcpu = cpu;
  return 0;
}

std::uint64_t sim_migrations() { return g_migrations.load(std::memory_order_relaxed); }

}  // namespace numaslab::detail
