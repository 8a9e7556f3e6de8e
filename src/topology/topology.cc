#include "topology/topology.h"

#include <cstdarg>
#include <cstring>

#include "base/check.h"
#include "base/format.h"
#include "platform/platform.h"

namespace numaslab::detail {

namespace {

using detail::BufWriter;

// A cpulist of 1024 CPUs in its worst (alternating) form is about 2.5 KiB.
constexpr std::size_t kFileBuf = 4096;
constexpr std::size_t kPathMax = 512;
// How much of a bad spec is quoted back, so the reason after it still fits.
constexpr std::size_t kSpecQuote = 40;
constexpr int kMaxDigits = 10;

struct ErrSink {
  char* buf;
  std::size_t len;
};

__attribute__((format(printf, 2, 3))) bool fail(ErrSink e, const char* fmt, ...) {
  BufWriter w(e.buf, e.len);
  va_list ap;
  va_start(ap, fmt);
  w.vprintf(fmt, ap);
  va_end(ap);
  return false;
}

// `bad topology "<spec>": <reason>`, with a long spec clipped so the reason
// survives truncation of err.
__attribute__((format(printf, 3, 4))) bool spec_fail(ErrSink e, const char* spec, const char* fmt,
                                                     ...) {
  BufWriter w(e.buf, e.len);
  w.put("bad topology \"");
  std::size_t n = std::strlen(spec);
  w.put_n(spec, n < kSpecQuote ? n : kSpecQuote);
  if (n > kSpecQuote) w.put("...");
  w.put("\": ");
  va_list ap;
  va_start(ap, fmt);
  w.vprintf(fmt, ap);
  va_end(ap);
  return false;
}

// Reads decimal digits at *p. Large values saturate rather than overflow so
// the caller's range check reports them ("node count must be 1..64").
bool parse_number(const char** p, long* out) {
  const char* s = *p;
  long v = 0;
  int digits = 0;
  while (*s >= '0' && *s <= '9') {
    if (++digits <= kMaxDigits) v = v * 10 + (*s - '0');
    ++s;
  }
  if (digits == 0) return false;
  *out = digits > kMaxDigits ? 99999999999L : v;
  *p = s;
  return true;
}

bool parse_sim(const char* spec, const char* p, TopologySpec* out, ErrSink e) {
  long nodes = 0, per_node = 0;
  if (!parse_number(&p, &nodes) || *p++ != 'x' || !parse_number(&p, &per_node) || *p != '\0')
    return spec_fail(e, spec, "expected sim:NxM (N nodes x M CPUs, e.g. sim:2x4)");
  if (nodes < 1 || nodes > kMaxNodes)
    return spec_fail(e, spec, "node count must be 1..%d", kMaxNodes);
  if (per_node < 1) return spec_fail(e, spec, "CPUs per node must be at least 1");
  if (per_node > kMaxCpus || nodes * per_node > kMaxCpus)
    return spec_fail(e, spec, "%ld nodes x %ld CPUs is more than the %d CPUs supported", nodes,
                     per_node, kMaxCpus);
  out->mode = TopologyMode::kSim;
  out->sim_nodes = static_cast<int>(nodes);
  out->sim_cpus_per_node = static_cast<int>(per_node);
  return true;
}

bool parse_map(const char* spec, const char* p, TopologySpec* out, ErrSink e) {
  out->mode = TopologyMode::kMap;
  for (auto& n : out->map_node) n = -1;
  if (*p == '\0') return spec_fail(e, spec, "empty CPU map (expected map:CPU=NODE,...)");
  CpuMask used_nodes;
  int max_cpu = -1, max_node = -1;
  for (int entry = 1;; ++entry) {
    long cpu = 0, node = 0;
    if (!parse_number(&p, &cpu) || *p++ != '=' || !parse_number(&p, &node) ||
        (*p != ',' && *p != '\0'))
      return spec_fail(e, spec, "malformed entry %d (expected map:CPU=NODE,...)", entry);
    if (cpu >= kMaxCpus) return spec_fail(e, spec, "CPU %ld must be < %d", cpu, kMaxCpus);
    if (node >= kMaxNodes) return spec_fail(e, spec, "node %ld must be < %d", node, kMaxNodes);
    if (out->map_node[cpu] >= 0) return spec_fail(e, spec, "CPU %ld listed twice", cpu);
    out->map_node[cpu] = static_cast<std::int16_t>(node);
    used_nodes.set(static_cast<int>(node));
    if (cpu > max_cpu) max_cpu = static_cast<int>(cpu);
    if (node > max_node) max_node = static_cast<int>(node);
    if (*p == '\0') break;
    ++p;
  }
  for (int n = 0; n <= max_node; ++n)
    if (!used_nodes.test(n))
      return spec_fail(e, spec, "node %d has no CPUs (node ids must be dense from 0)", n);
  out->map_cpus = max_cpu + 1;
  return true;
}

// sysfs is always read at /sys, through the platform seam (a test's fake
// sysfs is a fake platform, not another root).
constexpr const char* kSysfs = "/sys";

bool join_path(char* path, std::size_t cap, const char* rel) {
  return detail::format(path, cap, "%s/%s", kSysfs, rel) < cap;
}

bool is_dir(const char* rel) {
  char path[kPathMax];
  return join_path(path, sizeof path, rel) && platform().probe_dir(path) == 0;
}

enum class ListRead { kOk, kUnreadable, kMalformed };

ListRead read_list(const char* rel, int limit, CpuMask* out) {
  *out = CpuMask{};
  char path[kPathMax];
  char buf[kFileBuf];
  if (!join_path(path, sizeof path, rel) || platform().read_file(path, buf, sizeof buf) < 0)
    return ListRead::kUnreadable;
  return parse_cpulist(buf, out, limit) ? ListRead::kOk : ListRead::kMalformed;
}

// What a build of init() fills in. The two large tables are the topology's
// own (cleared first, and again if the build fails; cpu_node: unlisted CPUs
// default to node 0), built in place rather than on the stack, whose pages
// stay resident once touched; the rest is published by init() on success.
struct Layout {
  int possible = 0;
  int nodes = 0;
  std::int16_t* cpu_node = nullptr;  // kMaxCpus entries
  CpuMask* node_cpus = nullptr;      // kMaxNodes masks
  CpuMask memory;
  CpuMask online;
};

bool build_sim(const TopologySpec& spec, Layout* l, ErrSink e) {
  const int n = spec.sim_nodes, m = spec.sim_cpus_per_node;
  if (n < 1 || n > kMaxNodes || m < 1 || m > kMaxCpus || n * m > kMaxCpus)
    return fail(e, "bad topology: sim:%dx%d is out of range", n, m);
  l->possible = n * m;
  l->nodes = n;
  for (int c = 0; c < l->possible; ++c) {
    l->cpu_node[c] = static_cast<std::int16_t>(c / m);
    l->node_cpus[c / m].set(c);
    l->online.set(c);
  }
  for (int node = 0; node < n; ++node) l->memory.set(node);
  return true;
}

bool read_cpu_list(const char* rel, CpuMask* out, ErrSink e) {
  const char* root = kSysfs;
  const ListRead r = read_list(rel, kMaxCpus, out);
  if (r == ListRead::kUnreadable) return fail(e, "topology: cannot read %s/%s", root, rel);
  if (r == ListRead::kMalformed)
    return fail(e, "topology: %s/%s is malformed or names a CPU >= %d", root, rel, kMaxCpus);
  return true;
}

// Possible and online CPUs from sysfs (real and map modes).
bool read_cpus(Layout* l, ErrSink e) {
  const char* root = kSysfs;
  CpuMask possible, online;
  if (!read_cpu_list("devices/system/cpu/possible", &possible, e)) return false;
  // Per-CPU tables are indexed 0..possible-1, so holes cannot be represented.
  const int last = possible.last();
  if (last < 0 || possible.count() != last + 1)
    return fail(e, "topology: %s/devices/system/cpu/possible is not a range 0..n-1", root);
  if (!read_cpu_list("devices/system/cpu/online", &online, e)) return false;
  l->possible = last + 1;
  for (int c = online.first(); c >= 0 && c < l->possible; c = online.next(c + 1)) l->online.set(c);
  if (l->online.empty()) return fail(e, "topology: no possible CPU is online under %s", root);
  return true;
}

bool build_real_nodes(Layout* l, ErrSink e) {
  const char* root = kSysfs;
  char rel[96];
  CpuMask present, assigned;
  if (is_dir("devices/system/node")) {
    for (int n = 0; n <= kMaxNodes; ++n) {
      detail::format(rel, sizeof rel, "devices/system/node/node%d/cpulist", n);
      CpuMask cpus;
      ListRead r = read_list(rel, kMaxCpus, &cpus);
      if (r == ListRead::kUnreadable) continue;
      if (r == ListRead::kMalformed)
        return fail(e, "topology: %s/%s is malformed or names a CPU >= %d", root, rel, kMaxCpus);
      if (n == kMaxNodes) return fail(e, "topology: more than %d NUMA nodes", kMaxNodes);
      present.set(n);
      l->nodes = n + 1;
      // Node lists may name CPUs beyond the possible range; they cannot run us.
      for (int c = cpus.first(); c >= 0 && c < l->possible; c = cpus.next(c + 1)) {
        if (assigned.test(c))
          return fail(e, "topology: CPU %d is listed in node%d and node%d", c, l->cpu_node[c], n);
        assigned.set(c);
        l->cpu_node[c] = static_cast<std::int16_t>(n);
        l->node_cpus[n].set(c);
      }
    }
  }
  if (l->nodes == 0) {  // no NUMA information: the whole machine is node 0
    l->nodes = 1;
    present.set(0);
  }
  // CPUs the node lists do not name (e.g. not present yet) still need a node.
  for (int c = 0; c < l->possible; ++c) {
    if (!assigned.test(c)) {
      l->cpu_node[c] = 0;
      l->node_cpus[0].set(c);
    }
  }
  CpuMask mem;
  const ListRead r = read_list("devices/system/node/has_memory", kMaxNodes, &mem);
  if (r == ListRead::kMalformed)
    return fail(e, "topology: %s/devices/system/node/has_memory is malformed", root);
  if (r == ListRead::kUnreadable) mem = present;
  for (int n = mem.first(); n >= 0 && n < l->nodes; n = mem.next(n + 1)) l->memory.set(n);
  if (l->memory.empty()) return fail(e, "topology: no NUMA node has memory under %s", root);
  return true;
}

bool build_map_nodes(const TopologySpec& spec, Layout* l, ErrSink e) {
  if (spec.map_cpus < 1 || spec.map_cpus > kMaxCpus)
    return fail(e, "bad topology: map has %d CPUs", spec.map_cpus);
  for (int c = 0; c < l->possible; ++c)
    if (c >= spec.map_cpus || spec.map_node[c] < 0)
      return fail(e, "bad topology: possible CPU %d is missing from the map", c);
  for (int c = l->possible; c < spec.map_cpus; ++c) {
    if (spec.map_node[c] >= 0) {
      return fail(e, "bad topology: map names CPU %d, but only CPUs 0-%d are possible", c,
                  l->possible - 1);
    }
  }
  for (int c = 0; c < l->possible; ++c) {
    const int n = spec.map_node[c];
    if (n >= kMaxNodes) return fail(e, "bad topology: map puts CPU %d on node %d", c, n);
    l->cpu_node[c] = static_cast<std::int16_t>(n);
    l->node_cpus[n].set(c);
    if (n + 1 > l->nodes) l->nodes = n + 1;
  }
  for (int n = 0; n < l->nodes; ++n) {
    if (l->node_cpus[n].empty()) return fail(e, "bad topology: map leaves node %d without CPUs", n);
    l->memory.set(n);
  }
  return true;
}

void format_spec_text(const TopologySpec& spec, char* buf, std::size_t cap) {
  BufWriter w(buf, cap);
  if (spec.mode == TopologyMode::kReal) {
    w.put("real");
  } else if (spec.mode == TopologyMode::kSim) {
    w.printf("sim:%dx%d", spec.sim_nodes, spec.sim_cpus_per_node);
  } else {
    w.put("map:");
    for (int c = 0, listed = 0; c < spec.map_cpus; ++c)
      if (spec.map_node[c] >= 0) w.printf(listed++ ? ",%d=%d" : "%d=%d", c, spec.map_node[c]);
  }
  // A clipped map must not read as a complete one.
  if (w.truncated() && w.size() >= 3) {
    char* tail = buf + w.size() - 3;
    tail[0] = tail[1] = tail[2] = '.';
  }
}

}  // namespace

bool parse_topology_spec(const char* spec, TopologySpec* out, char* err, std::size_t errlen) {
  ErrSink e{err, err ? errlen : 0};
  if (e.len) err[0] = '\0';
  *out = TopologySpec{};
  if (spec == nullptr || *spec == '\0' || std::strcmp(spec, "real") == 0) return true;
  bool ok;
  if (std::strncmp(spec, "sim:", 4) == 0)
    ok = parse_sim(spec, spec + 4, out, e);
  else if (std::strncmp(spec, "map:", 4) == 0)
    ok = parse_map(spec, spec + 4, out, e);
  else
    ok = spec_fail(e, spec, "unknown mode (expected real, sim:NxM or map:CPU=NODE,...)");
  if (!ok) *out = TopologySpec{};
  return ok;
}

bool Topology::init(const TopologySpec& spec, char* err, std::size_t errlen) {
  ErrSink e{err, err ? errlen : 0};
  if (e.len) err[0] = '\0';
  // A failed init leaves an empty topology rather than a half-built one.
  mode_ = TopologyMode::kReal;
  possible_cpus_ = 0;
  num_nodes_ = 0;
  bind_memory_ = false;
  for (auto& w : online_) w.store(0, std::memory_order_relaxed);
  for (auto& n : node_online_count_) n.store(0, std::memory_order_relaxed);
  spec_text_[0] = '\0';
  clear_tables();

  Layout l;
  l.cpu_node = cpu_node_;
  l.node_cpus = node_cpus_;
  bool ok = false;
  switch (spec.mode) {
    case TopologyMode::kSim:
      ok = build_sim(spec, &l, e);
      break;
    case TopologyMode::kReal:
      ok = read_cpus(&l, e) && build_real_nodes(&l, e);
      break;
    case TopologyMode::kMap:
      ok = read_cpus(&l, e) && build_map_nodes(spec, &l, e);
      break;
  }
  if (!ok) {
    clear_tables();
    return false;
  }

  mode_ = spec.mode;
  possible_cpus_ = l.possible;
  num_nodes_ = l.nodes;
  bind_memory_ = spec.mode == TopologyMode::kReal && l.nodes > 1;
  node_memory_ = l.memory;
  for (int c = l.online.first(); c >= 0; c = l.online.next(c + 1)) set_cpu_online(c, true);
  format_spec_text(spec, spec_text_, sizeof spec_text_);
  return true;
}

void Topology::clear_tables() {
  std::memset(cpu_node_, 0, sizeof cpu_node_);
  for (CpuMask& m : node_cpus_) m = CpuMask{};
  node_memory_ = CpuMask{};
}

const char* Topology::mode_name() const {
  static constexpr const char* kNames[] = {"real", "sim", "map"};
  return kNames[static_cast<int>(mode_)];
}

bool Topology::cpu_online(int cpu) const {
  if (cpu < 0 || cpu >= possible_cpus_) return false;
  return (online_[cpu >> 6].load(std::memory_order_acquire) >> (cpu & 63)) & 1;
}

void Topology::set_cpu_online(int cpu, bool online) {
  NS_CHECK(cpu >= 0 && cpu < possible_cpus_, "set_cpu_online: CPU %d is not possible (0..%d)", cpu,
           possible_cpus_ - 1);
  const std::uint64_t bit = std::uint64_t{1} << (cpu & 63);
  std::atomic<int>& count = node_online_count_[cpu_node_[cpu]];
  // The count moves only on a real flip, so repeating a transition is harmless.
  if (online) {
    if (!(online_[cpu >> 6].fetch_or(bit, std::memory_order_acq_rel) & bit))
      count.fetch_add(1, std::memory_order_release);
  } else {
    if (online_[cpu >> 6].fetch_and(~bit, std::memory_order_acq_rel) & bit)
      count.fetch_sub(1, std::memory_order_release);
  }
}

int Topology::online_cpus_on_node(int node) const {
  if (node < 0 || node >= num_nodes_) return 0;
  return node_online_count_[node].load(std::memory_order_acquire);
}

int Topology::online_cpus() const { return online_mask().count(); }

CpuMask Topology::online_mask() const {
  CpuMask m;
  for (int i = 0; i < CpuMask::kWords; ++i) m.bits[i] = online_[i].load(std::memory_order_acquire);
  return m;
}

bool read_sysfs_cpulist(const char* rel_path, CpuMask* out) {
  return read_list(rel_path, kMaxCpus, out) == ListRead::kOk;
}

bool read_online_cpus(CpuMask* out) { return read_sysfs_cpulist("devices/system/cpu/online", out); }

bool read_allowed_cpus(CpuMask* out) {
  *out = CpuMask{};
  constexpr int kLongBits = 8 * sizeof(unsigned long);
  // A fixed mask: CPU_ALLOC would malloc. The kernel refuses (EINVAL) if it
  // has more CPU ids than fit, which is the right answer for kMaxCpus too.
  unsigned long mask[kMaxCpus / kLongBits] = {};
  if (platform().affinity(mask, sizeof mask) != 0) return false;
  for (int c = 0; c < kMaxCpus; ++c)
    if ((mask[c / kLongBits] >> (c % kLongBits)) & 1) out->set(c);
  return true;
}

}  // namespace numaslab::detail
