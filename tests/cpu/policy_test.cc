// Slots policy selection and reporting: real/map → RseqSlots, sim →
// LockedSlots, NUMASLAB_RSEQ=0 → LockedSlots, glibc's rseq switched off by
// GLIBC_TUNABLES → LockedSlots (in a child process), ThreadSanitizer →
// LockedSlots. The reported policy must also be the one the fast paths use
// (rseq counters vs slot-lock counters).
#include <stdlib.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "cpu_test_util.h"
#include "fakes/fake_platform.h"

namespace numaslab::cpu_test {
namespace {

// Allocates and frees a little on one cache; returns it (still alive).
numaslab_cache* small_workload() {
  numaslab_cache* c = numaslab_cache_create("cpu-policy", 64, 0, 0, nullptr);
  EXPECT_NE(c, nullptr);
  if (!c) return nullptr;
  std::vector<void*> v;
  // 8 × 200 allocations: the hit counters count allocations.
  for (int round = 0; round < 8; ++round) {
    for (int i = 0; i < 200; ++i) v.push_back(numaslab_cache_alloc(c));
    for (void* p : v) numaslab_cache_free(c, p);
    v.clear();
  }
  return c;
}

std::string verbose_init(const char* spec, int* rc) {
  setenv("NUMASLAB_VERBOSE", "1", 1);
  return capture_stderr([&] { *rc = numaslab_init(spec); });
}

TEST(CpuPolicy, RealModeSelectsRseq) {
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  int rc = -1;
  std::string err = verbose_init("real", &rc);
  ASSERT_EQ(rc, 0) << err;
  std::string json = slabinfo_json();
  if (kTsan) {
    EXPECT_STREQ(numaslab_slots_policy(), "locked");
    EXPECT_NE(err.find("slots locked (ThreadSanitizer build)"), std::string::npos) << err;
    EXPECT_NE(json.find("\"slots\":\"locked\""), std::string::npos);
    GTEST_SKIP() << "ThreadSanitizer build: RseqSlots are never selected";
  }
  ASSERT_GT(__rseq_size, 0u) << "glibc did not register rseq; run without GLIBC_TUNABLES";
  EXPECT_STREQ(numaslab_slots_policy(), "rseq");
  EXPECT_TRUE(detail::rseq_enabled());
  EXPECT_NE(err.find("numaslab: topology real"), std::string::npos) << err;
  // The hand-written fast paths are open except in ASan builds (they do not
  // poison and unpoison objects as the C++ paths do).
  EXPECT_NE(err.find(kAsan ? "slots rseq (glibc rseq area, membarrier fences, no fast paths "
                             "(ASan build))"
                           : "slots rseq (glibc rseq area, membarrier fences, fast paths)"),
            std::string::npos)
      << err;
  EXPECT_NE(json.find("\"slots\":\"rseq\""), std::string::npos) << json.substr(0, 300);
  EXPECT_NE(json.find("\"mode\":\"real\""), std::string::npos);

  // The fast paths really are the critical sections: rseq counters move, the
  // slot-lock counters do not.
  numaslab_cache* c = small_workload();
  ASSERT_NE(c, nullptr);
  EXPECT_GT(rseq_hits(c), 1000u);
  EXPECT_EQ(locked_hits(c), 0u);
  // The rseq current CPU is the kernel's.
  EXPECT_GE(numaslab_current_cpu(), 0);
  EXPECT_LT(numaslab_current_cpu(), numaslab_num_possible_cpus());
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

// membarrier's RSEQ registration is what makes remote stops possible: when it
// fails, the slots are locked ones, and they never fence.
TEST(CpuPolicy, MembarrierRegistrationFailingSelectsLocked) {
  using testing_fakes::Call;
  using testing_fakes::FakePlatform;
  if (kTsan) GTEST_SKIP() << "ThreadSanitizer build: RseqSlots are never selected";
  if (!thread_has_rseq()) GTEST_SKIP() << "glibc has not registered rseq";
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  setenv("NUMASLAB_REAP", "0", 1);
  FakePlatform::install();
  FakePlatform::fail_next(Call::kMembarrier, 1);
  int rc = -1;
  std::string err = verbose_init("real", &rc);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(FakePlatform::failures(Call::kMembarrier), 1u);
  EXPECT_STREQ(numaslab_slots_policy(), "locked");
  EXPECT_FALSE(detail::rseq_enabled());
  EXPECT_NE(err.find("slots locked (membarrier RSEQ fences unavailable)"), std::string::npos)
      << err;
  numaslab_cache* c = small_workload();
  ASSERT_NE(c, nullptr);
  EXPECT_GT(locked_hits(c), 1000u);
  EXPECT_EQ(rseq_hits(c), 0u);
  // A remote operation (the shrink drains every CPU's array) takes the slot
  // lock and needs no fence.
  EXPECT_GE(numaslab_cache_shrink(c), 0);
  EXPECT_EQ(FakePlatform::calls(Call::kMembarrier), 1u);
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  FakePlatform::uninstall();
}

TEST(CpuPolicy, MapModeSelectsRseq) {
  if (sysconf(_SC_NPROCESSORS_CONF) < 2) GTEST_SKIP() << "needs 2 CPUs";  // before init
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  int rc = -1;
  std::string err = verbose_init("map:0=0,1=1", &rc);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_STREQ(numaslab_topology_mode(), "map");
  if (kTsan) {
    EXPECT_STREQ(numaslab_slots_policy(), "locked");
    GTEST_SKIP() << "ThreadSanitizer build";
  }
  EXPECT_STREQ(numaslab_slots_policy(), "rseq");
  EXPECT_NE(err.find("slots rseq"), std::string::npos) << err;
  EXPECT_NE(slabinfo_json().find("\"slots\":\"rseq\""), std::string::npos);
}

TEST(CpuPolicy, SimModeSelectsLocked) {
  int rc = -1;
  std::string err = verbose_init("sim:2x2", &rc);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_STREQ(numaslab_slots_policy(), "locked");
  EXPECT_FALSE(detail::rseq_enabled());
  EXPECT_NE(err.find("numaslab: topology sim:2x2"), std::string::npos) << err;
  EXPECT_NE(err.find("slots locked (rseq not wanted here"), std::string::npos) << err;
  EXPECT_NE(slabinfo_json().find("\"slots\":\"locked\""), std::string::npos);
  numaslab_cache* c = small_workload();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(rseq_hits(c), 0u);
  EXPECT_GT(locked_hits(c), 1000u);
  EXPECT_EQ(detail::rseq_aborts(), 0u);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(CpuPolicy, RseqEnvZeroForcesLocked) {
  setenv("NUMASLAB_RSEQ", "0", 1);
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  int rc = -1;
  std::string err = verbose_init("real", &rc);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_STREQ(numaslab_slots_policy(), "locked");
  EXPECT_NE(err.find("slots locked (rseq not wanted here (sim mode or NUMASLAB_RSEQ=0))"),
            std::string::npos)
      << err;
  EXPECT_NE(slabinfo_json().find("\"slots\":\"locked\""), std::string::npos);
  numaslab_cache* c = small_workload();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(rseq_hits(c), 0u);
  EXPECT_GT(locked_hits(c), 1000u);
  EXPECT_EQ(detail::rseq_aborts(), 0u);
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(CpuPolicy, RseqEnvOneAllowsRseq) {
  setenv("NUMASLAB_RSEQ", "1", 1);
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  ASSERT_EQ(numaslab_init("real"), 0);
  EXPECT_STREQ(numaslab_slots_policy(), kTsan ? "locked" : "rseq");
}

// fork() keeps glibc's rseq area and the membarrier registration (rseq.md
// §5): a forked child keeps using RseqSlots, and its remote operations
// (shrink, tune, verify: stop + fence) must not fail the fence check.
TEST(CpuPolicy, ForkedChildKeepsRseqAndFences) {
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  setenv("NUMASLAB_REAP", "0", 1);  // no background thread holding locks at fork
  ASSERT_EQ(numaslab_init("real"), 0);
  if (!policy_is("rseq")) GTEST_SKIP() << "policy " << numaslab_slots_policy();
  numaslab_cache* c = numaslab_cache_create("cpu-fork", 72, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> keep;
  for (int i = 0; i < 300; ++i) keep.push_back(numaslab_cache_alloc(c));
  for (int i = 0; i < 150; ++i) numaslab_cache_free(c, keep[static_cast<std::size_t>(i)]);
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    if (!policy_is("rseq")) code |= 1;
    const std::uint64_t hits0 = rseq_hits(c);
    std::vector<void*> v;
    for (int round = 0; round < 50; ++round) {
      for (int i = 0; i < 100; ++i) v.push_back(numaslab_cache_alloc(c));
      for (void* p : v) numaslab_cache_free(c, p);
      v.clear();
    }
    if (rseq_hits(c) <= hits0) code |= 2;
    if (numaslab_cache_shrink(c) != 1) code |= 4;  // fences every CPU; objects still in use
    if (numaslab_tune("cpu-fork", 30, 10, 2) != 0) code |= 8;
    char buf[4096];
    if (numaslab_verify(buf, sizeof buf) != 0) code |= 16;
    for (std::size_t i = 150; i < keep.size(); ++i) numaslab_cache_free(c, keep[i]);
    if (numaslab_cache_destroy(c) != 0) code |= 32;
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "bits: 1 policy, 2 no rseq hits, 4 shrink, 8 tune, "
                                       "16 verify, 32 destroy";
  for (std::size_t i = 150; i < keep.size(); ++i) numaslab_cache_free(c, keep[i]);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

// ---- fallback when glibc did not register rseq (child process) ----

// Objects of the test cache carry tag bit 0 (objects are 8-byte aligned).
void* tag(void* p, bool cache_obj) {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) | (cache_obj ? 1u : 0u));
}
void* untag(void* p) {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{1});
}
void release(numaslab_cache* c, void* tagged) {
  if (reinterpret_cast<std::uintptr_t>(tagged) & 1)
    numaslab_cache_free(c, untag(tagged));
  else
    numaslab_kfree(tagged);
}

constexpr const char* kChildMarker = "NUMASLAB_CPU_TEST_TUNABLE_CHILD";

// Runs only inside the child spawned by GlibcTunableForcesLocked.
TEST(CpuPolicyChild, TunableChild) {
  if (!getenv(kChildMarker)) GTEST_SKIP() << "runs only as the child of GlibcTunableForcesLocked";
  setenv("NUMASLAB_WATCH_MS", "0", 1);
  int rc = -1;
  std::string err = verbose_init("real", &rc);
  fputs(err.c_str(), stdout);
  ASSERT_EQ(rc, 0) << err;
  // glibc honoured the tunable: no area registered, cpu_id says "disabled".
  EXPECT_EQ(__rseq_size, 0u);
#if defined(__x86_64__)
  EXPECT_EQ(static_cast<std::int32_t>(detail::rseq_area()->cpu_id), -2);
#endif
  EXPECT_STREQ(numaslab_slots_policy(), "locked");
  if (!kTsan) {
    EXPECT_NE(err.find("slots locked (glibc has not registered rseq"), std::string::npos) << err;
  }
  EXPECT_NE(slabinfo_json().find("\"slots\":\"locked\""), std::string::npos);
  printf("CHILD policy=%s rseq_size=%u\n", numaslab_slots_policy(), __rseq_size);

  // A multi-threaded workload with cross-thread frees on the locked paths.
  numaslab_cache* c = numaslab_cache_create("cpu-child", 96, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  constexpr int kThreads = 4;
  std::mutex mu;
  std::vector<void*> handoff;
  std::atomic<long> allocs{0}, frees{0}, bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      std::vector<void*> mine;
      for (int i = 0; i < 150000; ++i) {
        unsigned op = rng() % 8;
        if (op < 4 || mine.empty()) {
          void* p = (op & 1) ? numaslab_cache_alloc(c) : numaslab_kmalloc(16 + rng() % 500);
          if (!p) {
            ++bad;
            continue;
          }
          ++allocs;
          mine.push_back(tag(p, op & 1));
        } else {
          std::size_t k = rng() % mine.size();
          void* p = mine[k];
          mine[k] = mine.back();
          mine.pop_back();
          if (op == 7) {
            std::lock_guard<std::mutex> g(mu);
            handoff.push_back(p);
            continue;
          }
          if (numaslab_node_of(untag(p)) < 0) ++bad;
          release(c, p);
          ++frees;
        }
        if (op == 6) {
          std::lock_guard<std::mutex> g(mu);
          if (!handoff.empty()) {
            mine.push_back(handoff.back());
            handoff.pop_back();
          }
        }
      }
      for (void* p : mine) {
        release(c, p);
        ++frees;
      }
    });
  }
  for (auto& t : ts) t.join();
  for (void* p : handoff) {
    release(c, p);
    ++frees;
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(allocs.load(), frees.load());
  EXPECT_EQ(rseq_hits(c), 0u) << "a critical section ran although the policy is locked";
  EXPECT_EQ(detail::rseq_aborts(), 0u);
  VerifyResult vr = verify();
  EXPECT_EQ(vr.errors, 0) << vr.report;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  printf("CHILD workload allocs=%ld frees=%ld\n", allocs.load(), frees.load());
}

TEST(CpuPolicy, GlibcTunableForcesLocked) {
  std::string out;
  int status = run_self("CpuPolicyChild.TunableChild",
                        {"GLIBC_TUNABLES=glibc.pthread.rseq=0", std::string(kChildMarker) + "=1",
                         "NUMASLAB_WATCH_MS=0"},
                        &out);
  ASSERT_TRUE(WIFEXITED(status)) << "child died, status " << status << "\n" << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("CHILD policy=locked rseq_size=0"), std::string::npos) << out;
  EXPECT_NE(out.find("CHILD workload allocs="), std::string::npos) << out;
  EXPECT_NE(out.find("[  PASSED  ] 1 test"), std::string::npos) << out;
  EXPECT_EQ(out.find("SKIPPED"), std::string::npos) << out;
}

}  // namespace
}  // namespace numaslab::cpu_test
