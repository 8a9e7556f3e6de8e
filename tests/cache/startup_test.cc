// Start-up is transactional: a start-up that runs out of memory at any
// mapping leaves the process as if numaslab had never started, so a later
// call starts it; lazy start-up under out-of-memory fails the call with
// ENOMEM; a service whose thread cannot be created is retried and reported.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "cache_test_util.h"
#include "fakes/fake_platform.h"
#include "platform/os_memory.h"
#include "reap/reaper.h"
#include "runtime/runtime.h"

namespace numaslab::detail {
namespace {

using namespace testing_cache;
using testing_fakes::Call;
using testing_fakes::FakePlatform;

std::string json_stats() { return test_support::slabinfo_json(); }

void exercise() {
  numaslab_cache* c = numaslab_cache_create("after_startup", 200, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* o = numaslab_cache_alloc(c);
  void* k = numaslab_kmalloc(3000);
  void* big = numaslab_kmalloc(1 << 20);
  ASSERT_NE(o, nullptr);
  ASSERT_NE(k, nullptr);
  ASSERT_NE(big, nullptr);
  numaslab_cache_free(c, o);
  numaslab_kfree(k);
  numaslab_kfree(big);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_VERIFY_OK();
}

// Every mapping start-up makes, failed in turn (and every later one, as
// memory stays short), in one process: each attempt fails with -ENOMEM and
// leaves nothing mapped; the next attempt starts from scratch.
TEST(Startup, FailsAtEveryMappingAndCanBeRetried) {
  no_reaper();
  FakePlatform::install();
  const std::size_t mapped0 = os_mapped_bytes();
  std::uint64_t n = 0;
  for (;; ++n) {
    SCOPED_TRACE("mapping #" + std::to_string(n + 1) + " fails");
    FakePlatform::reset_counts();
    FakePlatform::fail(Call::kMap, FakePlatform::kForever, n);
    const int rc = numaslab_init("sim:2x2");
    FakePlatform::stop_failing();
    if (FakePlatform::failures(Call::kMap) == 0) {
      ASSERT_EQ(rc, 0);
      break;
    }
    ASSERT_EQ(rc, -ENOMEM);
    ASSERT_FALSE(booted());
    EXPECT_EQ(registry().head, nullptr);
    EXPECT_EQ(os_mapped_bytes(), mapped0) << "a failed start-up left memory mapped";
    ASSERT_LT(n, 10000u);
  }
  EXPECT_GE(n, 1u) << "start-up made no mapping";
  EXPECT_TRUE(booted());
  ASSERT_NO_FATAL_FAILURE(exercise());
  FakePlatform::uninstall();
}

// One failure, then plenty of memory: the very next call succeeds.
TEST(Startup, RetryAfterASingleFailure) {
  no_reaper();
  FakePlatform::install();
  FakePlatform::fail(Call::kMap, 1, 1);
  EXPECT_EQ(numaslab_init("sim:2x2"), -ENOMEM);
  EXPECT_EQ(FakePlatform::failures(Call::kMap), 1u);
  EXPECT_EQ(numaslab_init("sim:2x2"), 0);
  ASSERT_NO_FATAL_FAILURE(exercise());
  FakePlatform::uninstall();
}

// Lazy start-up (the first allocation starts numaslab) under out-of-memory
// returns NULL with ENOMEM, as the header promises, instead of aborting.
TEST(Startup, LazyStartupOutOfMemoryFailsTheCall) {
  no_reaper();
  setenv("NUMASLAB_TOPOLOGY", "sim:2x2", 1);
  {
    testing_fakes::NoNewMemory oom;
    errno = 0;
    EXPECT_EQ(numaslab_kmalloc(100), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(numaslab_kmalloc_node(100, 0), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(numaslab_kzalloc(64), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(numaslab_cache_create("lazy", 64, 0, 0, nullptr), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_FALSE(booted());
  }
  void* p = numaslab_kmalloc(100);
  ASSERT_NE(p, nullptr);
  numaslab_kfree(p);
  EXPECT_STREQ(numaslab_topology_mode(), "sim");
  ASSERT_NO_FATAL_FAILURE(exercise());
  FakePlatform::uninstall();
}

// The reaper's thread cannot be created: start-up succeeds, the reaper is
// reported as not started (statistics, verbose line), and it is started by a
// later slow path once threads can be created.
TEST(Startup, ReaperThatCannotStartIsRetriedAndReported) {
  setenv("NUMASLAB_REAP", "1", 1);
  setenv("NUMASLAB_VERBOSE", "1", 1);
  FakePlatform::install();
  FakePlatform::fail_next(Call::kThread, FakePlatform::kForever);
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  const std::string line = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(line.find("reaper not started (EAGAIN), retrying"), std::string::npos) << line;
  ServicesStatus st = services_status();
  EXPECT_FALSE(st.reaper_running);
  EXPECT_TRUE(st.pending);
  EXPECT_EQ(st.reaper_error, EAGAIN);
  std::string j = json_stats();
  EXPECT_NE(j.find("\"reaper\":\"not started\",\"reaper_error\":\"EAGAIN\""), std::string::npos)
      << j.substr(0, 600);
  EXPECT_NE(j.find("\"pending\":true"), std::string::npos);

  // Still failing: a retry (after the back-off) fails again and is counted.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  numaslab_cache* c = numaslab_cache_create("retry1", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(services_status().reaper_running);
  EXPECT_GE(services_status().retries, 1u);

  FakePlatform::stop_failing();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  numaslab_cache* d = numaslab_cache_create("retry2", 64, 0, 0, nullptr);
  ASSERT_NE(d, nullptr);
  st = services_status();
  EXPECT_TRUE(st.reaper_running);
  EXPECT_FALSE(st.pending);
  EXPECT_GE(st.start_failures, 2u);
  j = json_stats();
  EXPECT_NE(j.find("\"services\":{\"reaper\":\"on\""), std::string::npos) << j.substr(0, 600);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  EXPECT_EQ(numaslab_cache_destroy(d), 0);
  reaper_stop();
  EXPECT_VERIFY_OK();
  FakePlatform::uninstall();
}

}  // namespace
}  // namespace numaslab::detail
