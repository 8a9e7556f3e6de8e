// fork while other threads allocate: every child allocates, frees, passes
// numaslab_verify() and exits; none hangs. Built twice: against the library
// (test_fork: numaslab_kmalloc and an object cache) and against the malloc
// replacement (test_fork_shim, NUMASLAB_FORK_VIA_MALLOC: malloc and free).
// Only the public API, so the shim build has one numaslab in the process.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "numaslab/numaslab.h"

namespace {

#ifdef NUMASLAB_FORK_VIA_MALLOC
void* alloc(std::size_t n) { return std::malloc(n); }
void release(void* p) { std::free(p); }
#else
void* alloc(std::size_t n) { return numaslab_kmalloc(n); }
void release(void* p) { numaslab_kfree(p); }
#endif

constexpr int kWorkers = 4;
constexpr int kForks = 200;
constexpr auto kChildTimeout = std::chrono::seconds(20);

std::uint64_t next_random(std::uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

std::size_t random_size(std::uint64_t* s) {
  const std::uint64_t r = next_random(s);
  switch (r % 8) {
    case 0:
      return 40000 + r % 200000;  // page runs
    case 1:
      return 1024 + r % 8192;
    default:
      return 1 + r % 512;
  }
}

// Workers allocate, write, keep some, and swap objects through shared slots
// so that many frees are of objects another thread allocated.
struct Load {
  std::atomic<bool> stop{false};
  std::atomic<void*> exchange[64] = {};
  numaslab_cache* cache = nullptr;
  std::vector<std::thread> threads;

  void start() {
    cache = numaslab_cache_create("fork-load", 96, 0, 0, nullptr);
    ASSERT_NE(cache, nullptr);
    for (int t = 0; t < kWorkers; ++t) threads.emplace_back([this, t] { run(t); });
  }
  void run(int t) {
    std::uint64_t seed = 0x9e3779b97f4a7c15ULL * (t + 1);
    void* keep[32] = {};
    void* objs[16] = {};
    while (!stop.load(std::memory_order_relaxed)) {
      for (void*& o : objs) {
        const std::size_t n = random_size(&seed);
        o = alloc(n);
        if (o) std::memset(o, t, n < 64 ? n : 64);
      }
      for (void*& o : objs) {
        const std::uint64_t r = next_random(&seed);
        if (r % 4 == 0) {
          void* old = exchange[r % 64].exchange(o);
          if (old) release(old);
        } else if (r % 4 == 1) {
          std::swap(keep[r % 32], o);
          if (o) release(o);
        } else {
          release(o);
        }
        o = nullptr;
      }
      void* c = numaslab_cache_alloc(cache);
      if (c) numaslab_cache_free(cache, c);
    }
    for (void* o : keep)
      if (o) release(o);
  }
  void finish() {
    stop.store(true);
    for (auto& t : threads) t.join();
    for (auto& e : exchange)
      if (void* p = e.exchange(nullptr)) release(p);
  }
};

// In the child: numaslab works from its one thread and from a new one, and
// every invariant holds. Exit codes: 0 ok, 2 allocation failed, 3 verify.
[[noreturn]] void child_body() {
  std::uint64_t seed = static_cast<std::uint64_t>(getpid()) * 2654435761u + 1;
  void* objs[256];
  for (int round = 0; round < 4; ++round) {
    for (void*& o : objs) {
      const std::size_t n = random_size(&seed);
      o = alloc(n);
      if (!o) _exit(2);
      std::memset(o, 0x5a, n < 256 ? n : 256);
    }
    for (void* o : objs) release(o);
  }
  pthread_t tid;
  auto worker = [](void*) -> void* {
    for (int i = 0; i < 1000; ++i) release(alloc(64 + i % 512));
    return nullptr;
  };
  if (pthread_create(&tid, nullptr, worker, nullptr) == 0) pthread_join(tid, nullptr);
  static char report[8192];
  if (numaslab_verify(report, sizeof report) != 0) {
    (void)!write(2, report, std::strlen(report));
    _exit(3);
  }
  _exit(0);
}

// Waits for a child with a timeout; -1 if it hung (it is then killed).
int wait_child(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + kChildTimeout;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void many_forks_under_load() {
  ASSERT_EQ(numaslab_init(nullptr), 0);
  Load load;
  ASSERT_NO_FATAL_FAILURE(load.start());
  int hung = 0, failed = 0, last_bad = 0;
  for (int i = 0; i < kForks; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) child_body();
    const int rc = wait_child(pid);
    if (rc == -1) ++hung;
    if (rc > 0) {
      ++failed;
      last_bad = rc;
    }
  }
  load.finish();
  EXPECT_EQ(hung, 0) << "children that hung";
  EXPECT_EQ(failed, 0) << "children that failed (last exit status " << last_bad
                       << ": 2 allocation failed, 3 verify failed, >128 a signal)";
  char report[8192];
  EXPECT_EQ(numaslab_verify(report, sizeof report), 0) << report;
}

// The shim build reads its options when the process starts (the loader
// allocates first): ctest gives each variant its environment. The library
// build sets it here, before numaslab's first use in this process.
void use_options(const char* name, const char* value) {
#ifdef NUMASLAB_FORK_VIA_MALLOC
  const char* v = std::getenv(name);
  if (!v || std::strcmp(v, value) != 0) GTEST_SKIP() << "run with " << name << "=" << value;
#else
  setenv(name, value, 1);
#endif
}

TEST(Fork, TwoHundredForksWhileFourThreadsAllocate) { many_forks_under_load(); }

TEST(Fork, TwoHundredForksWithLockedSlots) {
  use_options("NUMASLAB_RSEQ", "0");
  if (testing::Test::IsSkipped()) return;
  many_forks_under_load();
  EXPECT_STREQ(numaslab_slots_policy(), "locked");
}

TEST(Fork, TwoHundredForksAtCheckFull) {
  use_options("NUMASLAB_CHECK", "full");
  if (testing::Test::IsSkipped()) return;
  many_forks_under_load();
}

TEST(Fork, TwoHundredForksInASimulatedTopology) {
  use_options("NUMASLAB_TOPOLOGY", "sim:2x2");
  if (testing::Test::IsSkipped()) return;
  many_forks_under_load();
  EXPECT_EQ(numaslab_num_nodes(), 2);
}

#ifndef NUMASLAB_FORK_VIA_MALLOC
// A fork while another thread runs numaslab's first start-up: a fresh
// process each time (this test process never starts numaslab itself).
TEST(Fork, DuringFirstStartUp) {
  int hung = 0, failed = 0;
  for (int i = 0; i < 40; ++i) {
    const pid_t p = fork();
    ASSERT_GE(p, 0);
    if (p == 0) {
      std::thread first([] { release(alloc(100)); });
      // Let the thread get going, for a varying while.
      std::this_thread::sleep_for(std::chrono::microseconds((i % 10) * 20));
      const pid_t c = fork();
      if (c == 0) child_body();
      first.join();
      _exit(c > 0 ? wait_child(c) : 4);
    }
    const int rc = wait_child(p);
    if (rc == -1) ++hung;
    if (rc > 0) ++failed;
  }
  EXPECT_EQ(hung, 0);
  EXPECT_EQ(failed, 0);
}
#endif

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string shm_file(pid_t pid) { return "/dev/shm/numaslab." + std::to_string(pid); }

// A child publishes under its own pid or not at all, and never touches the
// parent's file.
TEST(Fork, ChildPublishesUnderItsOwnPidAndLeavesTheParentsFile) {
  use_options("NUMASLAB_PUBLISH", "1");
  if (testing::Test::IsSkipped()) return;
  ASSERT_EQ(numaslab_init(nullptr), 0);
  release(alloc(64));
  ASSERT_TRUE(exists(shm_file(getpid()))) << "the parent publishes";
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    release(alloc(64));  // the child's next slow path restarts its services
    numaslab_publish(1);
    const char ok = exists(shm_file(getpid())) ? 'y' : 'n';
    (void)!write(pipefd[1], &ok, 1);
    exit(0);  // exit handlers run: they must remove only the child's file
  }
  char got = 0;
  ASSERT_EQ(read(pipefd[0], &got, 1), 1);
  EXPECT_EQ(wait_child(pid), 0);
  EXPECT_EQ(got, 'y') << "the child has a file of its own";
  EXPECT_TRUE(exists(shm_file(getpid()))) << "the child's exit left the parent's file";
  EXPECT_FALSE(exists(shm_file(pid))) << "the child removed its own file at exit";
  close(pipefd[0]);
  close(pipefd[1]);
  EXPECT_EQ(numaslab_publish(0), 0);
}

// The child gets its reaper back: free memory in the child is reaped.
TEST(Fork, ChildGetsItsReaperBack) {
  use_options("NUMASLAB_REAP_MS", "20");
  if (testing::Test::IsSkipped()) return;
  ASSERT_EQ(numaslab_init(nullptr), 0);
  release(alloc(64));
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    release(alloc(64));
    struct numaslab_stats before;
    numaslab_stats(&before);
    for (int i = 0; i < 500; ++i) {
      usleep(10000);
      struct numaslab_stats now;
      numaslab_stats(&now);
      if (now.reaper_visits > before.reaper_visits) _exit(0);
    }
    _exit(5);
  }
  EXPECT_EQ(wait_child(pid), 0) << "no reaper visit in the child within 5 s";
}

// 1000 short-lived threads whose objects other threads free after they
// exited; after a reap, a second round leaves no more memory in use.
TEST(Threads, ThousandShortLivedThreadsLeaveNothingBehind) {
  ASSERT_EQ(numaslab_init(nullptr), 0);
  auto round = [] {
    std::vector<void*> handed(1000 * 20);
    std::vector<std::thread> batch;
    for (int t = 0; t < 1000; ++t) {
      batch.emplace_back([&handed, t] {
        std::uint64_t seed = 77 + t;
        for (int i = 0; i < 20; ++i) handed[t * 20 + i] = alloc(random_size(&seed));
      });
      if (batch.size() == 8) {
        for (auto& b : batch) b.join();
        batch.clear();
      }
    }
    for (auto& b : batch) b.join();
    std::thread freer([&handed] {
      for (void* p : handed) release(p);
    });
    freer.join();
    numaslab_reap();
    struct numaslab_stats st;
    numaslab_stats(&st);
    return st.bytes_in_use;
  };
  const unsigned long long first = round();
  const unsigned long long second = round();
  EXPECT_LE(second, first + (1u << 20)) << "memory in use grew from round to round";
  char report[8192];
  EXPECT_EQ(numaslab_verify(report, sizeof report), 0) << report;
}

}  // namespace
