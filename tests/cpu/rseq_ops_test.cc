// The four RseqSlots critical sections (cpu/rseq_slots.h) on a hand-built
// array of CpuSlots: bounds, limits, node and stop checks, LIFO order,
// all-or-nothing batch push, min(k, avail) batch pop, indexing by the CPU the
// thread runs on — and, concurrently, conservation of tokens under a signal
// storm, migrations and remote stop/fence/mutate/start.
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "cpu/slots.h"
#include "cpu_test_util.h"

namespace numaslab::cpu_test {
namespace {


using detail::CpuSlot;
using detail::kRseqAbort;
using detail::kRseqFallback;
using detail::kRseqOk;

void* const kSentinel = reinterpret_cast<void*>(0xa5a5a5a5a5a5a5a0ull);

std::atomic<std::uint64_t> g_local_aborts{0};

// Retries a critical section until it does not abort.
template <class F>
int retry(F f) {
  for (;;) {
    int r = f();
    if (r != kRseqAbort) return r;
    g_local_aborts.fetch_add(1, std::memory_order_relaxed);
  }
}

// A CPU's array as the tests hand-build it: an entries block that can be
// attached to a slot (its avail is then the slot's top - base) or kept aside.
struct HandArray {
  void** e = nullptr;
  std::uint32_t limit = 0;
  std::uint32_t held = 0;      // avail while not attached
  CpuSlot* on = nullptr;       // the slot it is attached to
  std::uint32_t avail() const {
    return on ? static_cast<std::uint32_t>(on->top - on->base) : held;
  }
  void set_avail(std::uint32_t n) {
    if (on) on->top = on->base + n;
    else held = n;
  }
  void** entries() { return e; }
  void push(void* p) {
    e[avail()] = p;
    set_avail(avail() + 1);
  }
  void push_many(void* const* in, std::uint32_t k) {
    if (k == 0) return;  // in may be nullptr then (an empty vector's data())
    std::memcpy(e + avail(), in, k * sizeof(void*));
    set_avail(avail() + k);
  }
  void take_bottom(void** out, std::uint32_t k) {
    if (k == 0) return;  // out may be nullptr then (an empty vector's data())
    const std::uint32_t n = avail();
    std::memcpy(out, e, k * sizeof(void*));
    std::memmove(e, e + k, (n - k) * sizeof(void*));
    set_avail(n - k);
  }
};

HandArray* new_array(std::uint32_t limit, std::uint32_t batch = 1) {
  std::size_t bytes = sizeof(detail::ArrayHeader) + std::size_t{limit} * sizeof(void*);
  auto* h = static_cast<detail::ArrayHeader*>(std::aligned_alloc(16, (bytes + 15) & ~std::size_t{15}));
  *h = detail::ArrayHeader{limit, batch, 0, 0, 0};
  auto* a = new HandArray;
  a->e = reinterpret_cast<void**>(h + 1);
  a->limit = limit;
  for (std::uint32_t i = 0; i < limit; ++i) a->e[i] = kSentinel;
  return a;
}

// One CpuSlot per possible CPU, as a cache lays them out.
struct HandSlots {
  std::uint32_t n;
  CpuSlot* s;
  std::vector<HandArray*> owned;
  std::vector<HandArray*> cur;
  explicit HandSlots(int possible) : n(static_cast<std::uint32_t>(possible)), cur(n, nullptr) {
    s = static_cast<CpuSlot*>(std::aligned_alloc(sizeof(CpuSlot), sizeof(CpuSlot) * n));
    for (std::uint32_t i = 0; i < n; ++i) new (&s[i]) CpuSlot;
  }
  ~HandSlots() {
    for (std::uint32_t i = 0; i < n; ++i) s[i].~CpuSlot();
    std::free(s);
    for (HandArray* a : owned) {
      std::free(reinterpret_cast<detail::ArrayHeader*>(a->e) - 1);
      delete a;
    }
  }
  HandArray* attach(int cpu, std::uint32_t limit, std::uint32_t node) {
    HandArray* a = new_array(limit);
    owned.push_back(a);
    s[cpu].node = static_cast<std::uint16_t>(node);
    set_ac(cpu, a);
    return a;
  }
  // Installs a (or nothing) as CPU cpu's array; the old one keeps its avail.
  void set_ac(int cpu, HandArray* a) NS_NO_THREAD_SAFETY_ANALYSIS {
    CpuSlot& sl = s[cpu];
    if (HandArray* old = cur[static_cast<std::size_t>(cpu)]) {
      old->held = old->avail();
      old->on = nullptr;
    }
    cur[static_cast<std::size_t>(cpu)] = a;
    if (!a) {
      sl.base = sl.top = sl.cap = nullptr;
      return;
    }
    sl.base = a->e;
    sl.top = a->e + a->held;
    sl.cap = a->e + a->limit;
    a->on = &sl;
  }
  HandArray* array_of(int cpu) { return cur[static_cast<std::size_t>(cpu)]; }
};

void* tok(std::uintptr_t i) { return reinterpret_cast<void*>((i + 1) << 4); }

// Sets up the library (topology, policy) and says whether the CSes can run.
bool setup(std::string* why) {
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  if (numaslab_init("real") != 0) {
    *why = "numaslab_init(real) failed";
    return false;
  }
#if !defined(__x86_64__)
  *why = "rseq critical sections exist for x86-64 only";
  return false;
#else
  if (!thread_has_rseq()) {
    *why = "glibc did not register rseq for this thread";
    return false;
  }
  return true;
#endif
}

// Runs body in a thread pinned to `cpu` (the main thread keeps its mask).
template <class F>
void on_cpu(int cpu, F body) {
  std::thread t([&] {
    ASSERT_TRUE(pin_self({cpu}));
    ASSERT_EQ(static_cast<int>(detail::rseq_area()->cpu_id), cpu);
    body();
  });
  t.join();
}

int test_cpu() { return numaslab_num_possible_cpus() - 1; }

TEST(RseqOps, PushPopLifoLimitAndEmpty) {
  std::string why;
  if (!setup(&why)) GTEST_SKIP() << why;
  const int cpu = test_cpu();
  HandSlots hs(numaslab_num_possible_cpus());
  HandArray* a = hs.attach(cpu, 4, 0);
  on_cpu(cpu, [&] {
    for (int i = 0; i < 4; ++i)
      ASSERT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(i), 0); }), kRseqOk) << i;
    EXPECT_EQ(a->avail(), 4u);
    // Full: fallback, nothing changes.
    EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(99), 0); }), kRseqFallback);
    EXPECT_EQ(a->avail(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(a->entries()[i], tok(i));
    EXPECT_EQ(hs.s[cpu].free_hits(), 4u) << "free hits are derived from avail and alloc hits";
    // LIFO.
    EXPECT_EQ(hs.s[cpu].alloc_hits, 0u);
    for (int i = 3; i >= 0; --i) {
      void* out = nullptr;
      ASSERT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &out); }), kRseqOk);
      EXPECT_EQ(out, tok(i));
      EXPECT_EQ(a->avail(), static_cast<std::uint32_t>(i));
    }
    EXPECT_EQ(hs.s[cpu].alloc_hits, 4u) << "pops count hits (the reaper's 'touched')";
    // Empty: fallback, out untouched.
    void* out = kSentinel;
    EXPECT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &out); }), kRseqFallback);
    EXPECT_EQ(out, kSentinel);
    EXPECT_EQ(a->avail(), 0u);
    // Interleaved push/pop keeps LIFO.
    for (int round = 0; round < 1000; ++round) {
      ASSERT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(round), 0); }), kRseqOk);
      ASSERT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(round + 1), 0); }), kRseqOk);
      void* x = nullptr;
      ASSERT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &x); }), kRseqOk);
      ASSERT_EQ(x, tok(round + 1));
      ASSERT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &x); }), kRseqOk);
      ASSERT_EQ(x, tok(round));
    }
    EXPECT_EQ(a->avail(), 0u);
  });
}

TEST(RseqOps, WrongNodeStoppedAndMissingArrayFallBack) {
  std::string why;
  if (!setup(&why)) GTEST_SKIP() << why;
  const int cpu = test_cpu();
  HandSlots hs(numaslab_num_possible_cpus());
  HandArray* a = hs.attach(cpu, 8, 1);  // the slot's node is 1
  on_cpu(cpu, [&] {
    // Wrong node: push and push_batch refuse, nothing written.
    EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(1), 0); }), kRseqFallback);
    void* in[3] = {tok(1), tok(2), tok(3)};
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in, 3, 2); }), kRseqFallback);
    EXPECT_EQ(a->avail(), 0u);
    EXPECT_EQ(a->entries()[0], kSentinel);
    // Right node.
    EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(1), 1); }), kRseqOk);
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in, 3, 1); }), kRseqOk);
    EXPECT_EQ(a->avail(), 4u);

    // Stopped: all four operations fall back and change nothing.
    __atomic_store_n(&hs.s[cpu].stopped, 1u, __ATOMIC_SEQ_CST);
    void* out = kSentinel;
    void* outs[4] = {kSentinel, kSentinel, kSentinel, kSentinel};
    std::uint32_t got = 77, node = 77;
    EXPECT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &out); }), kRseqFallback);
    EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(9), 1); }), kRseqFallback);
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in, 1, 1); }), kRseqFallback);
    EXPECT_EQ(retry([&] { return detail::rseq_pop_batch(hs.s, hs.n, outs, 4, &got, &node); }),
              kRseqFallback);
    EXPECT_EQ(a->avail(), 4u);
    EXPECT_EQ(out, kSentinel);
    EXPECT_EQ(outs[0], kSentinel);
    EXPECT_EQ(a->entries()[4], kSentinel);
    __atomic_store_n(&hs.s[cpu].stopped, 0u, __ATOMIC_RELEASE);
    EXPECT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &out); }), kRseqOk);
    EXPECT_EQ(out, tok(3));

    // No array on this CPU's slot: fallback, even though another CPU's slot
    // has one — the CS indexes by the CPU it runs on.
    hs.set_ac(cpu, nullptr);
    const int other = cpu == 0 ? 1 : 0;
    if (static_cast<std::uint32_t>(other) < hs.n) {
      HandArray* b = hs.attach(other, 8, 1);
      b->entries()[0] = tok(42);
      b->set_avail(1);
      EXPECT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &out); }), kRseqFallback);
      EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(5), 1); }), kRseqFallback);
      EXPECT_EQ(b->avail(), 1u) << "a CS touched another CPU's slot";
      EXPECT_EQ(b->entries()[1], kSentinel);
    }
    EXPECT_EQ(retry([&] { return detail::rseq_pop_batch(hs.s, hs.n, outs, 4, &got, &node); }),
              kRseqFallback);
    hs.set_ac(cpu, a);
    EXPECT_EQ(a->avail(), 3u);
  });
}

TEST(RseqOps, CpuNumberOutsideTheSlotsFallsBack) {
  std::string why;
  if (!setup(&why)) GTEST_SKIP() << why;
  if (numaslab_num_possible_cpus() < 2) GTEST_SKIP() << "needs CPU 1";
  const int cpu = test_cpu();
  HandSlots hs(numaslab_num_possible_cpus());
  HandArray* a = hs.attach(cpu, 8, 0);
  for (int i = 0; i < cpu; ++i) hs.attach(i, 8, 0);
  on_cpu(cpu, [&] {
    // Pretend the cache has only `cpu` slots: cpu_id == nslots must be refused.
    const auto n = static_cast<std::uint32_t>(cpu);
    void* out = kSentinel;
    void* in[1] = {tok(1)};
    std::uint32_t got = 0, node = 0;
    EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, n, tok(1), 0); }), kRseqFallback);
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, n, in, 1, 0); }), kRseqFallback);
    EXPECT_EQ(retry([&] { return detail::rseq_pop(hs.s, n, &out); }), kRseqFallback);
    EXPECT_EQ(retry([&] { return detail::rseq_pop_batch(hs.s, n, &out, 1, &got, &node); }),
              kRseqFallback);
    EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, 0, tok(1), 0); }), kRseqFallback);
    EXPECT_EQ(a->avail(), 0u);
    for (std::uint32_t i = 0; i < n; ++i) EXPECT_EQ(hs.array_of(static_cast<int>(i))->avail(), 0u);
    // With the real count it works.
    EXPECT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(1), 0); }), kRseqOk);
    EXPECT_EQ(a->avail(), 1u);
  });
}

TEST(RseqOps, PushBatchIsAllOrNothing) {
  std::string why;
  if (!setup(&why)) GTEST_SKIP() << why;
  const int cpu = test_cpu();
  HandSlots hs(numaslab_num_possible_cpus());
  HandArray* a = hs.attach(cpu, 10, 0);
  on_cpu(cpu, [&] {
    std::vector<void*> in;
    for (int i = 0; i < 16; ++i) in.push_back(tok(i));
    // Too many for an empty array: nothing written at all.
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in.data(), 11, 0); }),
              kRseqFallback);
    EXPECT_EQ(a->avail(), 0u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(a->entries()[i], kSentinel) << i;
    // k = 0 is a no-op that succeeds.
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in.data(), 0, 0); }), kRseqOk);
    EXPECT_EQ(a->avail(), 0u);
    // 6 fit.
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in.data(), 6, 0); }), kRseqOk);
    EXPECT_EQ(a->avail(), 6u);
    // 5 more do not (6 + 5 > 10): nothing written above avail.
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in.data() + 6, 5, 0); }),
              kRseqFallback);
    EXPECT_EQ(a->avail(), 6u);
    for (int i = 6; i < 10; ++i) EXPECT_EQ(a->entries()[i], kSentinel) << i;
    // Exactly the room: fills to the limit, in order.
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in.data() + 6, 4, 0); }),
              kRseqOk);
    EXPECT_EQ(a->avail(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(a->entries()[i], tok(i)) << i;
    // Full: even one is refused.
    EXPECT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in.data(), 1, 0); }),
              kRseqFallback);
    EXPECT_EQ(a->avail(), 10u);
    // The hottest entry is the last one pushed.
    void* out = nullptr;
    EXPECT_EQ(retry([&] { return detail::rseq_pop(hs.s, hs.n, &out); }), kRseqOk);
    EXPECT_EQ(out, tok(9));
  });
}

TEST(RseqOps, PopBatchTakesMinOfKAndAvailAndReportsNode) {
  std::string why;
  if (!setup(&why)) GTEST_SKIP() << why;
  const int cpu = test_cpu();
  HandSlots hs(numaslab_num_possible_cpus());
  HandArray* a = hs.attach(cpu, 16, 3);  // node 3: pop_batch reports the slot's node
  on_cpu(cpu, [&] {
    std::vector<void*> in;
    for (int i = 0; i < 10; ++i) in.push_back(tok(i));
    ASSERT_EQ(retry([&] { return detail::rseq_push_batch(hs.s, hs.n, in.data(), 10, 3); }), kRseqOk);
    void* out[16];
    for (auto& o : out) o = kSentinel;
    std::uint32_t got = 99, node = 99;
    // k < avail: the k hottest, bottom-up (out[i] = entries[avail-k+i]).
    ASSERT_EQ(retry([&] { return detail::rseq_pop_batch(hs.s, hs.n, out, 4, &got, &node); }), kRseqOk);
    EXPECT_EQ(got, 4u);
    EXPECT_EQ(node, 3u);
    EXPECT_EQ(a->avail(), 6u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], tok(6 + i)) << i;
    EXPECT_EQ(out[4], kSentinel);
    // k > avail: all that is there.
    for (auto& o : out) o = kSentinel;
    ASSERT_EQ(retry([&] { return detail::rseq_pop_batch(hs.s, hs.n, out, 16, &got, &node); }),
              kRseqOk);
    EXPECT_EQ(got, 6u);
    EXPECT_EQ(node, 3u);
    EXPECT_EQ(a->avail(), 0u);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], tok(i)) << i;
    EXPECT_EQ(out[6], kSentinel);
    // Empty array: succeeds with nothing (callers handle got == 0).
    got = 99;
    EXPECT_EQ(retry([&] { return detail::rseq_pop_batch(hs.s, hs.n, out, 4, &got, &node); }), kRseqOk);
    EXPECT_EQ(got, 0u);
    EXPECT_EQ(a->avail(), 0u);
    // k = 0 on a non-empty array takes nothing.
    ASSERT_EQ(retry([&] { return detail::rseq_push(hs.s, hs.n, tok(7), 3); }), kRseqOk);
    got = 99;
    EXPECT_EQ(retry([&] { return detail::rseq_pop_batch(hs.s, hs.n, out, 0, &got, &node); }), kRseqOk);
    EXPECT_EQ(got, 0u);
    EXPECT_EQ(a->avail(), 1u);
  });
}

// Many threads, every op, migrations, a signal storm and a remote operator
// that stops, fences, moves tokens and swaps arrays: every token must exist
// exactly once at the end, no token may be held twice at any time, and a
// detached array must never be written by a late commit.
TEST(RseqOps, ConcurrentTokensConservedUnderSignalsAndRemoteStops) {
  std::string why;
  if (!setup(&why)) GTEST_SKIP() << why;
  if (!policy_is("rseq")) GTEST_SKIP() << "remote stop needs RseqSlots (policy "
                                       << numaslab_slots_policy() << ")";
  const int ncpu = numaslab_num_possible_cpus();
  constexpr std::uint32_t kLimit = 24;
  constexpr int kTokens = 4096;
  constexpr int kWorkers = 6;
  HandSlots hs(ncpu);
  // Two arrays per slot; the operator swaps them (as tune does).
  std::vector<HandArray*> spare(static_cast<std::size_t>(ncpu));
  for (int c = 0; c < ncpu; ++c) {
    hs.attach(c, kLimit, 0);
    spare[static_cast<std::size_t>(c)] = new_array(kLimit);
    hs.owned.push_back(spare[static_cast<std::size_t>(c)]);
  }
  auto claimed = std::make_unique<std::atomic<std::uint8_t>[]>(kTokens);
  for (int i = 0; i < kTokens; ++i) claimed[i].store(1);
  auto index_of = [](void* t) { return static_cast<int>((reinterpret_cast<std::uintptr_t>(t) >> 4) - 1); };
  std::atomic<long> dup{0}, bad_token{0}, late_writes{0};
  auto claim = [&](void* t) {
    int i = index_of(t);
    if (i < 0 || i >= kTokens) {
      ++bad_token;
      return;
    }
    if (claimed[i].exchange(1, std::memory_order_acq_rel) != 0) ++dup;
  };
  auto release = [&](void* t) { claimed[index_of(t)].store(0, std::memory_order_release); };

  std::mutex pool_mu;
  std::vector<void*> pool;
  std::atomic<bool> stop{false};
  std::vector<std::vector<void*>> stash(kWorkers);
  for (int i = 0; i < kTokens; ++i) stash[static_cast<std::size_t>(i % kWorkers)].push_back(tok(i));
  std::atomic<long> ops{0};

  SignalStorm::install();
  SignalStorm::ncpus.store(ncpu);
  SignalStorm::migrate.store(true);
  SignalStorm storm;
  std::vector<std::thread> workers;
  std::atomic<int> ready{0};
  pthread_t handles[kWorkers];
  std::atomic<bool> handles_ready{false};
  const std::uint64_t aborts_before = g_local_aborts.load();
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      auto& mine = stash[static_cast<std::size_t>(w)];
      std::mt19937 rng(static_cast<unsigned>(w) * 7919u + 1);
      AffinityChurn churn(ncpu);
      ready.fetch_add(1);
      void* buf[8];
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        churn.maybe(std::chrono::microseconds(1000));
        unsigned op = rng() % 10;
        if (op < 3 && !mine.empty()) {
          void* t = mine.back();
          release(t);
          if (retry([&] { return detail::rseq_push(hs.s, hs.n, t, 0); }) == kRseqOk) mine.pop_back();
          else claim(t);
        } else if (op < 6) {
          void* t = nullptr;
          if (retry([&] { return detail::rseq_pop(hs.s, hs.n, &t); }) == kRseqOk) {
            claim(t);
            mine.push_back(t);
          }
        } else if (op < 8 && !mine.empty()) {
          auto k = static_cast<std::uint32_t>(1 + rng() % 8);
          if (k > mine.size()) k = static_cast<std::uint32_t>(mine.size());
          void** top = mine.data() + (mine.size() - k);
          for (std::uint32_t i = 0; i < k; ++i) release(top[i]);
          if (retry([&] { return detail::rseq_push_batch(hs.s, hs.n, top, k, 0); }) == kRseqOk) {
            mine.resize(mine.size() - k);
          } else {
            for (std::uint32_t i = 0; i < k; ++i) claim(top[i]);
          }
        } else if (op < 10) {
          auto k = static_cast<std::uint32_t>(1 + rng() % 8);
          std::uint32_t got = 0, node = 7;
          if (retry([&] { return detail::rseq_pop_batch(hs.s, hs.n, buf, k, &got, &node); }) ==
              kRseqOk) {
            if (node != 0 || got > k) ++bad_token;
            for (std::uint32_t i = 0; i < got && i < k; ++i) {
              claim(buf[i]);
              mine.push_back(buf[i]);
            }
          }
        }
        if ((n & 127) == 0) {
          // Workers interrupt each other too: far more signals than one
          // sender thread can deliver on 2 CPUs.
          const std::size_t victim = rng() % kWorkers;
          if (handles_ready.load(std::memory_order_acquire))
            pthread_kill(handles[victim], SIGUSR1);
        }
        if ((++n & 255) == 0) {
          std::lock_guard<std::mutex> g(pool_mu);
          for (int i = 0; i < 16 && !pool.empty(); ++i) {
            claim(pool.back());
            mine.push_back(pool.back());
            pool.pop_back();
          }
        }
      }
      ops.fetch_add(n);
    });
    storm.add_target(workers.back().native_handle());
  }
  for (int w = 0; w < kWorkers; ++w) handles[w] = workers[static_cast<std::size_t>(w)].native_handle();
  handles_ready.store(true, std::memory_order_release);
  while (ready.load() < kWorkers) std::this_thread::yield();
  storm.start(std::chrono::microseconds(100));

  long remote_ops = 0, swaps = 0;
  std::thread op([&]() NS_NO_THREAD_SAFETY_ANALYSIS {
    std::mt19937 rng(12345);
    while (!stop.load(std::memory_order_relaxed)) {
      const int c = static_cast<int>(rng() % static_cast<unsigned>(ncpu));
      CpuSlot& s = hs.s[c];
      {
        detail::SlotStop g(s, c);
        HandArray* ac = hs.array_of(c);
        std::lock_guard<std::mutex> pg(pool_mu);
        if (rng() % 2) {
          // Move the bottom half to the pool.
          std::uint32_t k = (ac->avail() + 1) / 2;
          std::vector<void*> tmp(k);
          ac->take_bottom(tmp.data(), k);
          pool.insert(pool.end(), tmp.begin(), tmp.end());
        } else {
          // Refill from the pool.
          while (ac->avail() < kLimit && !pool.empty()) {
            ac->push(pool.back());
            pool.pop_back();
          }
        }
        if (rng() % 4 == 0) {
          // Swap in the spare: it must be exactly as we left it.
          HandArray* sp = spare[static_cast<std::size_t>(c)];
          bool clean = sp->avail() == 0;
          for (std::uint32_t i = 0; i < kLimit; ++i) clean = clean && sp->entries()[i] == kSentinel;
          if (!clean) ++late_writes;
          sp->set_avail(0);
          for (std::uint32_t i = 0; i < kLimit; ++i) sp->entries()[i] = kSentinel;
          sp->push_many(ac->entries(), ac->avail());
          ac->set_avail(0);
          for (std::uint32_t i = 0; i < kLimit; ++i) ac->entries()[i] = kSentinel;
          hs.set_ac(c, sp);
          spare[static_cast<std::size_t>(c)] = ac;
          ++swaps;
        }
      }
      ++remote_ops;
      timespec ts{0, 200000};
      nanosleep(&ts, nullptr);
    }
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  stop.store(true);
  op.join();
  const std::uint64_t sent = storm.stop();
  for (auto& t : workers) t.join();

  // Count every token exactly once.
  std::vector<int> seen(kTokens, 0);
  auto count = [&](void* t) {
    int i = index_of(t);
    if (i < 0 || i >= kTokens) ++bad_token;
    else ++seen[static_cast<std::size_t>(i)];
  };
  for (auto& m : stash)
    for (void* t : m) count(t);
  for (void* t : pool) count(t);
  for (int c = 0; c < ncpu; ++c) {
    HandArray* ac = hs.array_of(c);
    for (std::uint32_t i = 0; i < ac->avail(); ++i) count(ac->entries()[i]);
    HandArray* sp = spare[static_cast<std::size_t>(c)];
    EXPECT_EQ(sp->avail(), 0u) << "a detached array was committed to";
  }
  int missing = 0, twice = 0;
  for (int v : seen) {
    missing += v == 0;
    twice += v > 1;
  }
  const std::uint64_t aborts = g_local_aborts.load() - aborts_before;
  printf("[ rseq ops ] %ld ops, %ld remote stops (%ld array swaps), %llu signals sent, "
         "%llu handled (%llu migrated), %llu CS aborts retried\n",
         ops.load(), remote_ops, swaps, static_cast<unsigned long long>(sent),
         static_cast<unsigned long long>(SignalStorm::handled.load()),
         static_cast<unsigned long long>(SignalStorm::migrations.load()),
         static_cast<unsigned long long>(aborts));
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(dup.load(), 0) << "a token was held by two owners at once";
  EXPECT_EQ(bad_token.load(), 0);
  EXPECT_EQ(late_writes.load(), 0) << "a CS committed to an array after it was stopped and swapped";
  EXPECT_GT(remote_ops, 100);
  EXPECT_GT(ops.load(), 100000);
  EXPECT_GT(aborts, 0u) << "the signal storm never aborted a critical section";
}

}  // namespace
}  // namespace numaslab::cpu_test
