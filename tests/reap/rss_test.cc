// Memory goes back to the OS: after everything is freed and the reaper has
// run, RSS is within 1 MiB of where it started.
#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "reap_test_util.h"

namespace {

void churn(std::vector<void*>& v, numaslab_cache* c) {
  for (int i = 0; i < 100000; ++i) v.push_back(numaslab_cache_alloc(c));
  for (int i = 0; i < 20000; ++i)
    v.push_back(numaslab_kmalloc(static_cast<std::size_t>(16 + (i % 97) * 40)));
  for (int i = 0; i < 50; ++i) v.push_back(numaslab_kmalloc(200 * 1024));
  // Touch every object (up to 64 bytes of it) so its pages are resident.
  for (void* p : v) std::memset(p, 1, std::min<std::size_t>(64, numaslab_ksize(p)));
}

}  // namespace

// Sanitizers keep shadow memory for everything the allocator touched (ASan
// also for every poisoned object): it counts in RSS and is never returned.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "a sanitizer's shadow memory counts in RSS"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

TEST(Rss, ReturnsAfterFreeAllAndOneReapInterval) {
  SKIP_UNDER_SANITIZERS();
  setenv("NUMASLAB_REAP_MS", "100", 1);
  setenv("NUMASLAB_RELEASE_DELAY_MS", "100", 1);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab_cache* c = numaslab_cache_create("rss-objs", 512, 0, 0, nullptr);
  // Warm the metadata (arrays etc.) so the baseline includes it.
  numaslab_cache_free(c, numaslab_cache_alloc(c));
  // The test's own bookkeeping is resident before the baseline is taken.
  std::vector<void*> v;
  v.reserve(200000);
  std::memset(static_cast<void*>(v.data()), 0, 200000 * sizeof(void*));
  const long start = reaptest::rss_bytes();
  churn(v, c);
  const long peak = reaptest::rss_bytes();
  ASSERT_GT(peak - start, 50L << 20);
  for (std::size_t i = 0; i < 100000; ++i) numaslab_cache_free(c, v[i]);
  for (std::size_t i = 100000; i < v.size(); ++i) numaslab_kfree(v[i]);
  // One reap round covers every CPU once: interval 100 ms; the idle
  // catch-all and the release delay need a few rounds. Poll up to 5 s.
  long now = 0;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    now = reaptest::rss_bytes();
    if (now <= start + (1L << 20)) break;
  }
  EXPECT_LE(now, start + (1L << 20)) << "start " << start << " peak " << peak << " now " << now;
}

TEST(Rss, ReapNowReturnsEverythingAtOnce) {
  SKIP_UNDER_SANITIZERS();
  reaptest::init_no_reaper();
  numaslab_cache* c = numaslab_cache_create("rss-now", 256, 0, 0, nullptr);
  numaslab_cache_free(c, numaslab_cache_alloc(c));
  // The test's own bookkeeping is resident before the baseline is taken.
  std::vector<void*> v;
  v.reserve(200000);
  std::memset(static_cast<void*>(v.data()), 0, 200000 * sizeof(void*));
  const long start = reaptest::rss_bytes();
  churn(v, c);
  for (std::size_t i = 0; i < 100000; ++i) numaslab_cache_free(c, v[i]);
  for (std::size_t i = 100000; i < v.size(); ++i) numaslab_kfree(v[i]);
  EXPECT_GT(numaslab_reap(), 0u);
  EXPECT_LE(reaptest::rss_bytes(), start + (1L << 20));
  char buf[4096];
  EXPECT_EQ(numaslab_verify(buf, sizeof buf), 0) << buf;
}
