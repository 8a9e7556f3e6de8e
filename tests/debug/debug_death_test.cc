// The debug layer through the public API: red zones, poisoning, call sites,
// double frees, destroy with live objects, leak reports, and a correct
// program under NUMASLAB_DEBUG=all. Every test runs in its own process
// (gtest_discover_tests), so each sets NUMASLAB_DEBUG before numaslab starts.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "numaslab/numaslab.h"
#include "support/workload.h"

// The call sites the reports must name: not inlined, exported (the test
// program links with -rdynamic), unmangled.
extern "C" {
__attribute__((noinline)) void* debug_test_alloc_object(numaslab_cache* c) {
  void* p = numaslab_cache_alloc(c);
  asm volatile("" ::: "memory");
  return p;
}
__attribute__((noinline)) void debug_test_free_object(numaslab_cache* c, void* p) {
  numaslab_cache_free(c, p);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void debug_test_free_again(numaslab_cache* c, void* p) {
  numaslab_cache_free(c, p);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void* debug_test_kmalloc(std::size_t n) {
  void* p = numaslab_kmalloc(n);
  asm volatile("" ::: "memory");
  return p;
}
__attribute__((noinline)) void debug_test_kfree(void* p) {
  numaslab_kfree(p);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void debug_test_leak_seven(std::vector<void*>* keep) {
  for (int i = 0; i < 7; ++i) keep->push_back(numaslab_kmalloc(100));
  asm volatile("" ::: "memory");
}
}

namespace {

// The bugs themselves, as plain stores and loads: in the ASan presets the
// test is instrumented and ASan would report them before numaslab could.
__attribute__((no_sanitize("address"), noinline)) void raw_write(void* p, std::size_t off,
                                                                 unsigned char v) {
  static_cast<volatile unsigned char*>(p)[off] = v;
}
__attribute__((no_sanitize("address"), noinline)) unsigned char raw_read(const void* p,
                                                                         std::size_t off) {
  return static_cast<const volatile unsigned char*>(p)[off];
}

// One CPU: a freed object is the next one handed out (the CPU's array is a
// stack), so a write after free is met at the next allocation. No reaper:
// a death test's child would start it again at its first allocation, and
// ThreadSanitizer refuses threads in a child of a threaded process.
void start(const char* debug) {
  setenv("NUMASLAB_REAP", "0", 1);
  if (debug)
    setenv("NUMASLAB_DEBUG", debug, 1);
  else
    unsetenv("NUMASLAB_DEBUG");
  ASSERT_EQ(numaslab_init("sim:1x1"), 0);
}

// Everything numaslab_leak_report writes to a file descriptor, as text.
std::string leak_report_text(int* count) {
  int fd = memfd_create("leaks", 0);
  EXPECT_GE(fd, 0);
  *count = numaslab_leak_report(fd);
  std::string text;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return text;
}

int verify_errors(std::string* text) {
  std::vector<char> buf(1 << 16);
  const int rc = numaslab_verify(buf.data(), buf.size());
  *text = buf.data();
  return rc;
}

using DebugDeathTest = ::testing::Test;

TEST(DebugDeathTest, OverflowPastACacheObjectIsCaughtAtFree) {
  start(nullptr);
  numaslab_cache* c = numaslab_cache_create("dbg_overflow", 40, 0,
                                            NUMASLAB_RED_ZONE | NUMASLAB_STORE_USER, nullptr);
  ASSERT_NE(c, nullptr);
  auto* p = static_cast<unsigned char*>(debug_test_alloc_object(c));
  ASSERT_NE(p, nullptr);
  raw_write(p, 40, 0x41);  // one byte past the object
  std::string v;
  EXPECT_EQ(verify_errors(&v), 1) << v;
  EXPECT_NE(v.find("cache 'dbg_overflow': red zone of"), std::string::npos) << v;
  EXPECT_DEATH(numaslab_cache_free(c, p),
               "numaslab: fatal: numaslab_cache_free: red zone of 0x[0-9a-f]+ overwritten "
               "\\(cache 'dbg_overflow'\\): first bad byte at offset 40, 0 past the 40-byte "
               "object.*: 00 00 00 00 00 00 00 00 41 bb bb.*allocated at 0x[0-9a-f]+ "
               "\\(debug_test_alloc_object\\+0x"
               "[0-9a-f]+, .*\\) by thread [0-9]+ on CPU 0");
}

TEST(DebugDeathTest, OverflowPastTheRequestedSizeOfAKmallocBlock) {
  start("redzone,user");
  auto* p = static_cast<unsigned char*>(debug_test_kmalloc(100));  // a 112-byte class
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(numaslab_ksize(p), 100u) << "a debug block is as large as asked for";
  std::memset(p, 0, 100);  // every requested byte is the caller's
  raw_write(p, 100, 0);
  EXPECT_DEATH(debug_test_kfree(p),
               "numaslab_kfree: red zone of 0x[0-9a-f]+ overwritten \\(cache 'kmalloc-112'\\): "
               "first bad byte at offset 100, 0 past the 100-byte object.*allocated at "
               "0x[0-9a-f]+ \\(debug_test_kmalloc\\+0x");
  // Within the requested size nothing is reported.
  raw_write(p, 100, 0xbb);
  debug_test_kfree(p);
  std::string v;
  EXPECT_EQ(verify_errors(&v), 0) << v;
}

TEST(DebugDeathTest, WriteAfterFreeIsCaughtWhenTheObjectIsHandedOutAgain) {
  start(nullptr);
  numaslab_cache* c =
      numaslab_cache_create("dbg_poison", 64, 0, NUMASLAB_POISON | NUMASLAB_STORE_USER, nullptr);
  ASSERT_NE(c, nullptr);
  auto* p = static_cast<unsigned char*>(debug_test_alloc_object(c));
  ASSERT_NE(p, nullptr);
  debug_test_free_object(c, p);
  EXPECT_EQ(raw_read(p, 0), 0x6b) << "a free object holds the poison";
  raw_write(p, 8, 0);  // the bug
  std::string v;
  EXPECT_EQ(verify_errors(&v), 1) << v;
  EXPECT_NE(v.find("written at offset 8 (last freed at"), std::string::npos) << v;
  EXPECT_DEATH(numaslab_cache_alloc(c),
               "numaslab_cache_alloc: write after free of 0x[0-9a-f]+ \\(cache 'dbg_poison'\\): "
               "first bad byte at offset 8 of the 64-byte object.*last freed at 0x[0-9a-f]+ "
               "\\(debug_test_free_object\\+0x[0-9a-f]+, .*\\) by thread");
}

std::atomic<int> g_ctor_runs{0};
void counting_ctor(void* p) {
  std::memset(p, 0x5a, 32);
  g_ctor_runs.fetch_add(1);
}

TEST(DebugDeathTest, PoisonedObjectsOfACacheWithAConstructorAreConstructedAgain) {
  start(nullptr);
  numaslab_cache* c = numaslab_cache_create("dbg_ctor", 32, 0, NUMASLAB_POISON, counting_ctor);
  ASSERT_NE(c, nullptr);
  auto* p = static_cast<unsigned char*>(numaslab_cache_alloc(c));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p[31], 0x5a);
  const int before = g_ctor_runs.load();
  numaslab_cache_free(c, p);
  EXPECT_EQ(raw_read(p, 31), 0x6b);
  auto* q = static_cast<unsigned char*>(numaslab_cache_alloc(c));
  EXPECT_EQ(q, p);
  EXPECT_EQ(q[31], 0x5a) << "constructed state again";
  EXPECT_EQ(g_ctor_runs.load(), before + 1);
  numaslab_cache_free(c, q);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(DebugDeathTest, DoubleFreeNamesBothCallSites) {
  start(nullptr);
  numaslab_cache* c = numaslab_cache_create("dbg_double", 24, 0, NUMASLAB_STORE_USER, nullptr);
  ASSERT_NE(c, nullptr);
  void* p = debug_test_alloc_object(c);
  debug_test_free_object(c, p);
  EXPECT_DEATH(debug_test_free_again(c, p),
               "numaslab_cache_free: double free of 0x[0-9a-f]+ \\(cache 'dbg_double'\\).*"
               "first freed at 0x[0-9a-f]+ \\(debug_test_free_object\\+0x.*"
               "freed again at 0x[0-9a-f]+ \\(debug_test_free_again\\+0x.*"
               "allocated at 0x[0-9a-f]+ \\(debug_test_alloc_object\\+0x");
}

TEST(DebugDeathTest, DoubleKfreeUnderNumaslabDebugAll) {
  start("all");
  void* p = debug_test_kmalloc(40);
  debug_test_kfree(p);
  EXPECT_DEATH(numaslab_kfree(p),
               "numaslab_kfree: double free of 0x[0-9a-f]+ \\(cache 'kmalloc-48'\\).*first freed "
               "at 0x[0-9a-f]+ \\(debug_test_kfree\\+0x");
}

TEST(DebugDeathTest, DestroyWithLiveObjectsListsTheirAllocationSites) {
  start(nullptr);
  numaslab_cache* c = numaslab_cache_create("dbg_live", 48, 0, NUMASLAB_STORE_USER, nullptr);
  ASSERT_NE(c, nullptr);
  void* objs[3];
  for (void*& o : objs) o = debug_test_alloc_object(c);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(numaslab_cache_destroy(c), -EBUSY);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("numaslab_cache_destroy: cache 'dbg_live' still has 3 objects in use"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("numaslab: objects still in use: 3 objects (144 bytes) in use from 1 "
                     "allocation site"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("numaslab:   3 objects, 144 bytes, cache 'dbg_live', allocated at 0x"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("(debug_test_alloc_object+0x"), std::string::npos) << err;
  for (void* o : objs) numaslab_cache_free(c, o);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(DebugDeathTest, LeakReportCountsWhatAKnownFunctionLeaked) {
  start("leaks");
  numaslab_cache* c = numaslab_cache_create("dbg_leaky", 40, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> keep;
  keep.reserve(16);
  debug_test_leak_seven(&keep);
  keep.push_back(debug_test_alloc_object(c));
  keep.push_back(debug_test_alloc_object(c));
  void* freed = debug_test_kmalloc(100);
  debug_test_kfree(freed);  // freed: not a leak
  int n = 0;
  const std::string text = leak_report_text(&n);
  EXPECT_EQ(n, 9) << text;
  EXPECT_NE(text.find("numaslab: leak report: 9 objects (780 bytes) in use from 2 allocation "
                      "sites"),
            std::string::npos)
      << text;
  // Largest first: the seven kmalloc blocks, then the two cache objects.
  const auto seven = text.find(
      "numaslab:   7 objects, 700 bytes, cache 'kmalloc-112', allocated "
      "at 0x");
  const auto two = text.find("numaslab:   2 objects, 80 bytes, cache 'dbg_leaky', allocated at 0x");
  ASSERT_NE(seven, std::string::npos) << text;
  ASSERT_NE(two, std::string::npos) << text;
  EXPECT_LT(seven, two) << text;
  EXPECT_NE(text.find("(debug_test_leak_seven+0x", seven), std::string::npos) << text;
  EXPECT_NE(text.find("(debug_test_alloc_object+0x", two), std::string::npos) << text;
  EXPECT_EQ(text.find("kmem_cache"), std::string::npos) << "numaslab's own metadata is no leak";
  // And the same at exit, on stderr.
  EXPECT_EXIT(std::exit(0), ::testing::ExitedWithCode(0),
              "numaslab: leak report: 9 objects \\(780 bytes\\) in use from 2 allocation sites");
  for (void* p : keep) {
    if (p == keep[7] || p == keep[8])
      numaslab_cache_free(c, p);
    else
      numaslab_kfree(p);
  }
  EXPECT_EQ(leak_report_text(&n).find("0 objects (0 bytes)"),
            0u + std::strlen("numaslab: leak report: "));
  EXPECT_EQ(n, 0);
}

TEST(DebugDeathTest, CorrectProgramUnderNumaslabDebugAllRunsClean) {
  unsetenv("NUMASLAB_DEBUG");
  setenv("NUMASLAB_DEBUG", "all", 1);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  ::testing::internal::CaptureStderr();
  {
    using numaslab::test_support::Workload;
    using numaslab::test_support::WorkloadSpec;
    numaslab_cache* caches[2] = {
        numaslab_cache_create("dbg_clean_a", 72, 0, 0, nullptr),
        numaslab_cache_create("dbg_clean_b", 200, 0, NUMASLAB_HWCACHE_ALIGN, counting_ctor)};
    ASSERT_NE(caches[0], nullptr);
    ASSERT_NE(caches[1], nullptr);
    const std::uint32_t sizes[2] = {72, 200};
    WorkloadSpec spec;
    spec.use_caches(caches, sizes, 2);
    spec.boxes = 2;
    Workload w(spec);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&, i] { w.run_worker(i, stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
    for (auto& t : threads) t.join();
    w.drain();
    EXPECT_EQ(w.failures.load(), 0) << w.first_failure();
    EXPECT_GT(w.allocs.load(), 1000);
    std::string v;
    EXPECT_EQ(verify_errors(&v), 0) << v;
    int n = -1;
    leak_report_text(&n);
    EXPECT_EQ(n, 0);
    for (numaslab_cache* c : caches) EXPECT_EQ(numaslab_cache_destroy(c), 0);
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "") << "no report from a correct program";
}

}  // namespace
