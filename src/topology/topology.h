// numaslab — the machine as the allocator sees it: CPUs, nodes, and which CPU
// is online. The kernel analogues are cpu_possible_map, cpu_online_map,
// cpu_to_node() and node_to_cpumask().
//
// Contract:
//  * Modes (TopologySpec):  "real" — CPUs and nodes from sysfs (a machine
//    without <sysfs>/devices/system/node is one node holding every CPU; a CPU
//    no node lists belongs to node 0; node memory is node/has_memory, or every
//    node if that file is missing; possible CPUs must be 0..n-1);
//    "sim:NxM" — N nodes x M virtual CPUs, CPU c on node c / M, every node
//    has memory, all CPUs start online; "map:C=N,..." — real CPUs, but the
//    CPU->node map is taken from the spec (every possible CPU must be listed,
//    node ids dense from 0).  A bad spec is rejected with a one-line reason.
//  * possible_cpus() is fixed after init; CPU ids are 0..possible_cpus()-1.
//    num_nodes() is fixed; node ids are 0..num_nodes()-1.
//  * cpu_to_node() never changes after init.
//  * The online mask changes only through set_cpu_online(), which the hotplug
//    layer calls under the registry mutex; readers use acquire loads and may
//    see a slightly stale value (the hotplug protocol tolerates it).
//  * Invariant: online_cpus_on_node(n) == |{c online : cpu_to_node(c) == n}|.
// No locks; nothing here allocates. sysfs (/sys) and the process's affinity
// are read through the platform seam (platform/platform.h) with fixed
// buffers; a test's fake sysfs is a fake platform.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/config.h"
#include "topology/cpu_mask.h"

namespace numaslab::detail {

enum class TopologyMode : std::uint8_t { kReal, kSim, kMap };

struct TopologySpec {
  TopologyMode mode = TopologyMode::kReal;
  int sim_nodes = 0;          // kSim
  int sim_cpus_per_node = 0;  // kSim
  int map_cpus = 0;           // kMap: highest listed CPU + 1 (map_node[0..map_cpus) is used)
  // kMap: node of CPU i, or -1 if unlisted (parse_topology_spec writes the -1s;
  // a hand-built kMap spec must too).
  std::int16_t map_node[kMaxCpus] = {};
};

// Parses "real", "sim:NxM" or "map:C=N,...". nullptr or "" means "real".
// On failure returns false and writes a one-line reason into err.
bool parse_topology_spec(const char* spec, TopologySpec* out, char* err, std::size_t errlen);

class Topology {
 public:
  // Builds the topology (real and map modes read /sys/devices/system; sim
  // mode reads nothing). Returns false with a reason in err (e.g. map: lists
  // a CPU that is not possible, sysfs unreadable, more than kMaxCpus CPUs)
  // and leaves the topology empty.
  bool init(const TopologySpec& spec, char* err, std::size_t errlen);

  TopologyMode mode() const { return mode_; }
  const char* mode_name() const;
  int possible_cpus() const { return possible_cpus_; }
  int num_nodes() const { return num_nodes_; }
  int cpu_to_node(int cpu) const { return cpu_node_[cpu]; }
  bool node_has_memory(int node) const { return node_memory_.test(node); }
  // Memory placement through mbind makes sense only on a real multi-node machine.
  bool bind_memory_to_nodes() const { return bind_memory_; }

  bool cpu_online(int cpu) const;
  void set_cpu_online(int cpu, bool online);
  int online_cpus_on_node(int node) const;
  int online_cpus() const;
  CpuMask online_mask() const;
  const CpuMask& node_cpus(int node) const { return node_cpus_[node]; }  // possible CPUs of node

  // The spec the topology was built from, as text ("sim:2x2").
  const char* spec_text() const { return spec_text_; }

 private:
  void clear_tables();

  TopologyMode mode_ = TopologyMode::kReal;
  int possible_cpus_ = 0;
  int num_nodes_ = 0;
  bool bind_memory_ = false;
  std::int16_t cpu_node_[kMaxCpus] = {};
  CpuMask node_cpus_[kMaxNodes];
  CpuMask node_memory_;  // bit n set: node n has memory
  std::atomic<std::uint64_t> online_[CpuMask::kWords] = {};
  std::atomic<int> node_online_count_[kMaxNodes] = {};
  char spec_text_[64] = {};
};

// sysfs helpers (fixed buffers; return false if the file is missing/unreadable).
// rel_path is relative to /sys ("devices/system/cpu/possible").
bool read_sysfs_cpulist(const char* rel_path, CpuMask* out);
// The CPUs the kernel reports online right now (/sys/devices/system/cpu/online).
bool read_online_cpus(CpuMask* out);
// The CPUs this process may run on: the affinity of its main thread (pid),
// which is what cpusets and taskset change for the whole process.
bool read_allowed_cpus(CpuMask* out);

}  // namespace numaslab::detail
