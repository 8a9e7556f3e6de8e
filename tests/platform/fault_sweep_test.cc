// Fault injection at every system call a workload reaches: for every N, the
// Nth mmap (and every later one: memory stays short), the Nth madvise, or
// the Nth thread creation fails. Each step must then succeed or fail with
// its documented error, verify() must report no violation, and once the
// calls succeed again every step that failed must succeed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "cache/registry.h"
#include "fakes/fake_platform.h"
#include "numaslab/numaslab.h"
#include "page/page_allocator.h"
#include "page/page_map.h"
#include "reap/reaper.h"
#include "runtime/runtime.h"
#include "support/report.h"

namespace numaslab::detail {
namespace {

using testing_fakes::Call;
using testing_fakes::FakePlatform;

int verify_errors(std::string* report) {
  test_support::VerifyResult r = test_support::verify();
  *report = r.report;
  return r.errors;
}

// The workload: every step that can need a new mapping. A step returns true
// on success, false on its documented failure (NULL with errno ENOMEM, or
// -ENOMEM); anything else fails the test.
struct Workload {
  numaslab_cache* cache = nullptr;
  std::vector<void*> objs, blocks;
  bool tuned = false, cpu_up = true;

  bool create() {
    if (cache) return true;
    errno = 0;
    cache = numaslab_cache_create("sweep", 256, 0, 0, nullptr);
    if (!cache) {
      EXPECT_EQ(errno, ENOMEM) << "cache create";
    }
    return cache != nullptr;
  }
  // Grows the cache by about 16 MiB: new slabs need new segments.
  bool grow() {
    if (!cache) return false;
    while (objs.size() < 64000) {
      errno = 0;
      void* p =
          (objs.size() % 3) ? numaslab_cache_alloc(cache) : numaslab_cache_alloc_node(cache, 1);
      if (!p) {
        EXPECT_EQ(errno, ENOMEM) << "cache alloc";
        return false;
      }
      objs.push_back(p);
    }
    return true;
  }
  // Large runs (from segments) and huge blocks (their own mappings).
  bool large() {
    static const std::size_t sizes[] = {100000, 1 << 20, 3 << 20, 9 << 20, 1 << 20, 200000};
    while (blocks.size() < sizeof sizes / sizeof sizes[0]) {
      errno = 0;
      void* p = numaslab_kmalloc_node(sizes[blocks.size()], static_cast<int>(blocks.size() % 2));
      if (!p) {
        EXPECT_EQ(errno, ENOMEM) << "kmalloc " << sizes[blocks.size()];
        return false;
      }
      blocks.push_back(p);
    }
    return true;
  }
  // New per-CPU and shared arrays for every CPU.
  bool tune() {
    if (!cache || tuned) return cache != nullptr;
    const int rc = numaslab_tune("sweep", 480, 240, 8);
    if (rc != 0) {
      EXPECT_EQ(rc, -ENOMEM) << "tune";
    }
    tuned = rc == 0;
    return tuned;
  }
  // CPU 3, the last CPU of node 1, down and up: UP_PREPARE allocates metadata.
  bool hotplug() {
    if (cpu_up) {
      EXPECT_EQ(numaslab_cpu_down(3), 0);
      cpu_up = false;
    }
    const int rc = numaslab_cpu_up(3);
    if (rc != 0) {
      EXPECT_EQ(rc, -ENOMEM) << "cpu_up";
    }
    cpu_up = rc == 0;
    return cpu_up;
  }
  bool all() {
    bool ok = create();
    ok = grow() && ok;
    ok = large() && ok;
    ok = tune() && ok;
    ok = hotplug() && ok;
    return ok;
  }
  void release() {
    for (void* p : objs) numaslab_cache_free(cache, p);
    for (void* p : blocks) numaslab_kfree(p);
    objs.clear();
    blocks.clear();
    if (cache) {
      EXPECT_EQ(numaslab_cache_destroy(cache), 0);
    }
    cache = nullptr;
    tuned = false;
  }
};

class FaultSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("NUMASLAB_REAP", "0", 1);
    FakePlatform::install();
    ASSERT_EQ(numaslab_init("sim:2x2"), 0);
    ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  }
  void TearDown() override { FakePlatform::uninstall(); }
  // Gives every free page back to the OS, so the next round maps again.
  static void trim() {
    numaslab_reap();
    for (int n = 0; n < numaslab_num_nodes(); ++n) trim_node(n, 0);
  }
};

TEST_F(FaultSweep, EveryMmapOfTheWorkload) {
  std::uint64_t reached = 0, rounds = 0;
  for (std::uint64_t n = 0;; ++n) {
    SCOPED_TRACE("mmap #" + std::to_string(n + 1) + " and later ones fail");
    trim();
    FakePlatform::reset_counts();
    FakePlatform::fail(Call::kMap, FakePlatform::kForever, n);
    Workload w;
    const bool ok = w.all();
    FakePlatform::stop_failing();
    const std::uint64_t failed = FakePlatform::failures(Call::kMap);
    std::string report;
    ASSERT_EQ(verify_errors(&report), 0) << report;
    if (failed == 0) {
      EXPECT_TRUE(ok);
      reached = FakePlatform::calls(Call::kMap);
      w.release();
      break;
    }
    EXPECT_FALSE(ok) << "a failed mmap went unreported";
    // Recovery: with memory again every step completes.
    ASSERT_TRUE(w.all()) << "no recovery after the failure";
    ASSERT_EQ(verify_errors(&report), 0) << report;
    w.release();
    ASSERT_EQ(verify_errors(&report), 0) << report;
    ++rounds;
    ASSERT_LT(n, 2000u);
  }
  EXPECT_GE(rounds, 4u) << "the workload reached only " << reached << " mappings";
  std::printf("fault sweep: %llu mmap failure points, each recovered\n",
              static_cast<unsigned long long>(rounds));
}

// Releasing memory (reap) with madvise refused at every call: nothing is
// counted as released that was not, and the next reap releases it.
TEST_F(FaultSweep, EveryMadviseOfAReap) {
  std::uint64_t rounds = 0;
  for (std::uint64_t n = 0;; ++n) {
    SCOPED_TRACE("madvise #" + std::to_string(n + 1) + " and later ones fail");
    Workload w;
    ASSERT_TRUE(w.create() && w.grow() && w.large());
    w.release();
    FakePlatform::reset_counts();
    FakePlatform::fail(Call::kAdvise, FakePlatform::kForever, n);
    const std::size_t got = numaslab_reap();
    FakePlatform::stop_failing();
    std::string report;
    ASSERT_EQ(verify_errors(&report), 0) << report;
    if (FakePlatform::failures(Call::kAdvise) == 0) {
      EXPECT_GT(got, 0u);
      break;
    }
    // What madvise refused is still resident and is released now.
    EXPECT_GT(numaslab_reap(), 0u) << "refused blocks were lost or counted as released";
    ASSERT_EQ(verify_errors(&report), 0) << report;
    ++rounds;
    ASSERT_LT(n, 5000u);
    if (n >= 40) n += 7;  // past the first blocks, every 8th point is enough
  }
  EXPECT_GE(rounds, 1u);
}

// The reaper thread cannot be created at start-up and at the first retries.
TEST(FaultSweepThreads, ThreadCreationFailsThenRecovers) {
  setenv("NUMASLAB_REAP", "1", 1);
  FakePlatform::install();
  FakePlatform::fail_next(Call::kThread, FakePlatform::kForever);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  EXPECT_FALSE(reaper_running());
  EXPECT_TRUE(services_pending());
  FakePlatform::stop_failing();
  // The next slow path after the back-off starts it.
  for (int i = 0; i < 30 && !reaper_running(); ++i) {
    usleep(100000);
    numaslab_cache* c = numaslab_cache_create("t", 64, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(numaslab_cache_destroy(c), 0);
  }
  EXPECT_TRUE(reaper_running());
  EXPECT_FALSE(services_pending());
  reaper_stop();
  char buf[4096];
  EXPECT_EQ(numaslab_verify(buf, sizeof buf), 0) << buf;
  FakePlatform::uninstall();
}

// mbind is made only where memory is bound to nodes (real mode on a NUMA
// machine); binding is best effort: a refused mbind still gives memory.
TEST(FaultSweepBind, RefusedMbindStillGivesPages) {
  page_allocator_init(kMaxNodes, /*bind=*/true);
  FakePlatform::install();
  FakePlatform::fail_next(Call::kBind, FakePlatform::kForever);
  constexpr int kNode = 7;
  trim_node(kNode, 0);
  void* p = alloc_pages(kNode, 3);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(FakePlatform::failures(Call::kBind), 1u);
  void* h = alloc_huge(5 << 20, kNode);
  ASSERT_NE(h, nullptr);
  free_huge(h);
  free_pages(p, 3);
  EXPECT_EQ(page_allocator_stats(kNode).pages_in_use, 0u);
  FakePlatform::uninstall();
}

}  // namespace
}  // namespace numaslab::detail
