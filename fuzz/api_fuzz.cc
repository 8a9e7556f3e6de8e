// numaslab-fuzz: a libFuzzer target that turns bytes into numaslab API
// operations and checks every result against a small model.
//
// Operations: caches created and destroyed, alloc, alloc_node, free,
// kmalloc/kmalloc_node/kzalloc of any size up to huge blocks, kfree, ksize,
// shrink, tune, reap, cpu_down/cpu_up and thread binding (sim mode), verify.
// The model: every live pointer is unique, lies in no other live block, keeps
// the pattern written into it until it is freed, has ksize >= its size and
// the node it was asked for; destroy returns -EBUSY exactly when the model
// holds objects of the cache; hotplug answers as the model's online set
// says; verify reports no violation. Each input ends by releasing
// everything and a final verify, so inputs are independent.
#include <fuzzer/FuzzedDataProvider.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "numaslab/numaslab.h"

namespace {

constexpr int kMaxCaches = 4;
constexpr std::size_t kMaxLive = 4096;
constexpr std::size_t kMaxLiveBytes = 96u << 20;
constexpr const char* kTopology = "sim:2x2";

[[noreturn]] void fail(const char* what, const void* p = nullptr, long a = 0, long b = 0) {
  std::fprintf(stderr, "numaslab-fuzz: MODEL MISMATCH: %s (%p, %ld, %ld)\n", what, p, a, b);
  std::abort();
}
#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) fail(#cond " " __VA_ARGS__); \
  } while (0)

struct Block {
  std::size_t size;
  std::uint8_t seed;
  int cache;  // -1: kmalloc
  int node;   // asked-for node, -1: any
};

struct Model {
  numaslab_cache* caches[kMaxCaches] = {};
  std::size_t cache_size[kMaxCaches] = {};
  std::size_t cache_live[kMaxCaches] = {};
  std::map<std::uintptr_t, Block> live;  // start -> block
  std::vector<std::uintptr_t> order;     // for picking by index
  std::size_t live_bytes = 0;
  bool online[4] = {true, true, true, true};
  int nodes = 0, cpus = 0;
};

std::uint64_t g_ops = 0, g_inputs = 0;
Model* g_model = nullptr;
char g_verify[1 << 16];

void report() {
  std::fprintf(stderr, "numaslab-fuzz: %llu operations in %llu inputs\n",
               static_cast<unsigned long long>(g_ops), static_cast<unsigned long long>(g_inputs));
}

// Every byte of a small block; the first 4 KiB and the last byte of a large
// one (enough to see an overlap or a stray write, without faulting in every
// page of a huge block: a page fault costs more than a hundred operations).
constexpr std::size_t kFillMax = 4096;
void fill(void* p, std::size_t n, std::uint8_t seed) {
  auto* b = static_cast<std::uint8_t*>(p);
  const std::size_t k = n < kFillMax ? n : kFillMax;
  for (std::size_t i = 0; i < k; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  b[n - 1] = static_cast<std::uint8_t>(seed ^ 0x5a);
}
void check_fill(const void* p, std::size_t n, std::uint8_t seed) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  const std::size_t k = n < kFillMax ? n : kFillMax;
  for (std::size_t i = 0; i + 1 < k; ++i)
    CHECK(b[i] == static_cast<std::uint8_t>(seed + i * 7), "contents changed", p,
          static_cast<long>(i));
  CHECK(b[n - 1] == static_cast<std::uint8_t>(seed ^ 0x5a), "last byte changed", p,
        static_cast<long>(n));
}

void verify_ok() {
  const int v = numaslab_verify(g_verify, sizeof g_verify);
  if (v != 0) {
    std::fprintf(stderr, "%s\n", g_verify);
    fail("verify", nullptr, v);
  }
}

// A new block must not overlap any live one.
void admit(Model& m, void* p, const Block& b) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto next = m.live.lower_bound(a);
  CHECK(next == m.live.end() || next->first >= a + b.size, "new block overlaps a live one", p);
  if (next != m.live.begin()) {
    auto prev = std::prev(next);
    CHECK(prev->first + prev->second.size <= a, "new block overlaps the previous one", p);
  }
  const int node = numaslab_node_of(p);
  CHECK(node >= 0 && node < m.nodes, "node_of of a live block", p, node);
  if (b.node >= 0) CHECK(node == b.node, "block from the wrong node", p, node, b.node);
  if (b.size > 0) fill(p, b.size, b.seed);
  m.live.emplace(a, b);
  m.order.push_back(a);
  m.live_bytes += b.size;
  if (b.cache >= 0) ++m.cache_live[b.cache];
}

// Removes the k-th live block from the model (contents checked), returns it.
std::pair<void*, Block> take(Model& m, std::size_t k) {
  const std::uintptr_t a = m.order[k];
  m.order[k] = m.order.back();
  m.order.pop_back();
  auto it = m.live.find(a);
  Block b = it->second;
  m.live.erase(it);
  void* p = reinterpret_cast<void*>(a);
  if (b.size > 0) check_fill(p, b.size, b.seed);
  m.live_bytes -= b.size;
  if (b.cache >= 0) --m.cache_live[b.cache];
  return {p, b};
}

std::size_t kmalloc_size(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegral<std::uint8_t>() % 8) {
    case 0:
      return in.ConsumeIntegralInRange<std::size_t>(0, 64);
    case 1:
    case 2:
      return in.ConsumeIntegralInRange<std::size_t>(1, 1024);
    case 3:
    case 4:
      return in.ConsumeIntegralInRange<std::size_t>(1, 32768);
    case 5:
      return in.ConsumeIntegralInRange<std::size_t>(32769, 2u << 20);
    case 6:
      return in.ConsumeIntegralInRange<std::size_t>(2u << 20, 6u << 20);  // huge blocks
    default:
      return std::size_t{1} << in.ConsumeIntegralInRange<int>(0, 22);
  }
}

bool room(const Model& m, std::size_t size) {
  return m.live.size() < kMaxLive && m.live_bytes + size <= kMaxLiveBytes;
}

void one_op(Model& m, FuzzedDataProvider& in) {
  ++g_ops;
  const int c = in.ConsumeIntegralInRange<int>(0, kMaxCaches - 1);
  switch (in.ConsumeIntegralInRange<int>(0, 17)) {
    case 0: {  // create
      if (m.caches[c]) break;
      static const std::size_t align[] = {0, 8, 64, 4096};
      const std::size_t size = in.ConsumeBool()
                                   ? in.ConsumeIntegralInRange<std::size_t>(1, 512)
                                   : in.ConsumeIntegralInRange<std::size_t>(1, 128 * 1024);
      const std::size_t al = align[in.ConsumeIntegralInRange<int>(0, 3)];
      char name[16];
      std::snprintf(name, sizeof name, "fz%d", c);
      m.caches[c] = numaslab_cache_create(name, size, al, in.ConsumeBool() ? 0x2000u : 0u, nullptr);
      CHECK(m.caches[c] != nullptr, "cache create", nullptr, static_cast<long>(size), errno);
      m.cache_size[c] = size;
      break;
    }
    case 1: {  // destroy
      if (!m.caches[c]) break;
      const int rc = numaslab_cache_destroy(m.caches[c]);
      if (m.cache_live[c]) {
        CHECK(rc == -EBUSY, "destroy with live objects", nullptr, rc);
      } else {
        CHECK(rc == 0, "destroy of an empty cache", nullptr, rc);
        m.caches[c] = nullptr;
      }
      break;
    }
    case 2:
    case 3: {  // alloc / alloc_node
      if (!m.caches[c] || !room(m, m.cache_size[c])) break;
      const bool node = in.ConsumeBool();
      const int n = in.ConsumeIntegralInRange<int>(0, m.nodes - 1);
      void* p =
          node ? numaslab_cache_alloc_node(m.caches[c], n) : numaslab_cache_alloc(m.caches[c]);
      CHECK(p != nullptr, "cache alloc", nullptr, errno);
      CHECK(numaslab_ksize(p) >= m.cache_size[c], "ksize of a cache object", p);
      admit(m, p, Block{m.cache_size[c], in.ConsumeIntegral<std::uint8_t>(), c, node ? n : -1});
      break;
    }
    case 4:
    case 5:
    case 6: {  // free (cache or kmalloc)
      if (m.order.empty()) break;
      auto [p, b] = take(m, in.ConsumeIntegralInRange<std::size_t>(0, m.order.size() - 1));
      if (b.cache >= 0)
        numaslab_cache_free(m.caches[b.cache], p);
      else
        numaslab_kfree(p);
      break;
    }
    case 7:
    case 8:
    case 9: {  // kmalloc / kmalloc_node / kzalloc
      std::size_t size = kmalloc_size(in);
      const int kind = in.ConsumeIntegralInRange<int>(0, 2);
      // kzalloc zeroes every byte: large ones would be page faults, not tests.
      if (kind == 2 && size > 65536) size = 65536;
      if (!room(m, size)) break;
      const int n = in.ConsumeIntegralInRange<int>(0, m.nodes - 1);
      void* p = kind == 0   ? numaslab_kmalloc(size)
                : kind == 1 ? numaslab_kmalloc_node(size, n)
                            : numaslab_kzalloc(size);
      CHECK(p != nullptr, "kmalloc", nullptr, static_cast<long>(size), errno);
      if (kind == 2)
        for (std::size_t i = 0; i < size && i < kFillMax; ++i)
          CHECK(static_cast<unsigned char*>(p)[i] == 0, "kzalloc not zeroed", p,
                static_cast<long>(i));
      CHECK(numaslab_ksize(p) >= size, "ksize < size", p, static_cast<long>(numaslab_ksize(p)),
            static_cast<long>(size));
      admit(m, p, Block{size, in.ConsumeIntegral<std::uint8_t>(), -1, kind == 1 ? n : -1});
      break;
    }
    case 10: {  // ksize of a live block
      if (m.order.empty()) break;
      const std::uintptr_t a =
          m.order[in.ConsumeIntegralInRange<std::size_t>(0, m.order.size() - 1)];
      CHECK(numaslab_ksize(reinterpret_cast<void*>(a)) >= m.live[a].size, "ksize",
            reinterpret_cast<void*>(a));
      break;
    }
    case 11: {  // shrink
      if (!m.caches[c]) break;
      const int rc = numaslab_cache_shrink(m.caches[c]);
      CHECK(rc == (m.cache_live[c] ? 1 : 0), "shrink", nullptr, rc,
            static_cast<long>(m.cache_live[c]));
      break;
    }
    case 12: {  // tune
      if (!m.caches[c]) break;
      const long limit = in.ConsumeIntegralInRange<long>(-1, 600);
      const long batch = in.ConsumeIntegralInRange<long>(-1, 300);
      const long shared = in.ConsumeIntegralInRange<long>(-1, 9);
      char name[16];
      std::snprintf(name, sizeof name, "fz%d", c);
      const int rc = numaslab_tune(name, limit, batch, shared);
      const bool valid =
          limit >= 1 && batch >= 1 && batch <= limit && shared >= 0 && limit <= 120 && shared <= 8;
      if (valid)
        CHECK(rc == 0, "tune with valid values", nullptr, rc);
      else
        CHECK(rc == 0 || rc == -EINVAL, "tune", nullptr, rc);
      break;
    }
    case 13:
      // Rarely: a reap hands memory back, and faulting it in again is slow.
      if (in.ConsumeIntegral<std::uint8_t>() < 16) numaslab_reap();
      break;
    case 14: {  // cpu down
      const int cpu = in.ConsumeIntegralInRange<int>(0, m.cpus - 1);
      int up = 0;
      for (bool o : m.online) up += o;
      const int rc = numaslab_cpu_down(cpu);
      if (!m.online[cpu])
        CHECK(rc == -EALREADY, "cpu_down of an offline CPU", nullptr, rc);
      else if (up == 1)
        CHECK(rc == -EBUSY, "cpu_down of the last CPU", nullptr, rc);
      else {
        CHECK(rc == 0, "cpu_down", nullptr, rc, cpu);
        m.online[cpu] = false;
      }
      break;
    }
    case 15: {  // cpu up
      const int cpu = in.ConsumeIntegralInRange<int>(0, m.cpus - 1);
      const int rc = numaslab_cpu_up(cpu);
      if (m.online[cpu])
        CHECK(rc == -EALREADY, "cpu_up of an online CPU", nullptr, rc);
      else {
        CHECK(rc == 0, "cpu_up", nullptr, rc, cpu);
        m.online[cpu] = true;
      }
      break;
    }
    case 16: {  // bind the thread
      const int cpu = in.ConsumeIntegralInRange<int>(0, m.cpus - 1);
      const int rc = numaslab_bind_thread_to_cpu(cpu);
      CHECK(rc == (m.online[cpu] ? 0 : -ENODEV), "bind", nullptr, rc, cpu);
      break;
    }
    default:
      // A full verify walks every slab: now and then (every input ends with one).
      if (in.ConsumeIntegral<std::uint8_t>() < 32) verify_ok();
      break;
  }
}

void release_all(Model& m) {
  while (!m.order.empty()) {
    auto [p, b] = take(m, m.order.size() - 1);
    if (b.cache >= 0)
      numaslab_cache_free(m.caches[b.cache], p);
    else
      numaslab_kfree(p);
  }
  for (int i = 0; i < m.cpus; ++i)
    if (!m.online[i]) {
      CHECK(numaslab_cpu_up(i) == 0, "cpu_up at the end", nullptr, i);
      m.online[i] = true;
    }
  for (int c = 0; c < kMaxCaches; ++c)
    if (m.caches[c]) {
      CHECK(numaslab_cache_shrink(m.caches[c]) == 0, "shrink of an empty cache");
      CHECK(numaslab_cache_destroy(m.caches[c]) == 0, "destroy at the end");
      m.caches[c] = nullptr;
    }
  verify_ok();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("NUMASLAB_REAP", "0", 1);  // deterministic: no background thread
  if (numaslab_init(kTopology) != 0) std::abort();
  g_model = new Model;
  g_model->nodes = numaslab_num_nodes();
  g_model->cpus = numaslab_num_possible_cpus();
  if (g_model->cpus > 4) std::abort();
  std::atexit(report);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Model& m = *g_model;
  FuzzedDataProvider in(data, size);
  numaslab_bind_thread_to_cpu(0);
  while (in.remaining_bytes() > 0) one_op(m, in);
  release_all(m);
  if ((++g_inputs & 0xffff) == 0) report();
  return 0;
}
