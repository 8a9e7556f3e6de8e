// A test implementation of the platform seam (src/platform/platform.h):
//  * fail the Nth call: every system call numaslab makes is counted, and a
//    test asks to "skip s calls of this kind, then fail the next n"
//    (memory, thread creation, membarrier, the uevent socket, file open,
//    truncate and shared mapping, affinity);
//  * a fake sysfs: while enabled, every read of a path under /sys is served
//    from a table of path -> contents (missing paths fail with ENOENT), so a
//    topology test needs no files on disk and no environment variable;
//  * a fake CPU number (getcpu), per thread, and a fake allowed CPU set;
//  * a fake uevent socket: a descriptor the test made (one end of a
//    socketpair, say) handed to the watcher instead of a netlink socket;
//  * a hook run once at the next mapping, before it is made: what another
//    thread might do while numaslab maps memory outside its locks.
// Everything else goes to the real platform.
//
// Install with FakePlatform::install() at a quiescent point (before
// numaslab starts, or with no other thread inside numaslab); uninstall()
// restores the real platform. The state is process-wide (the seam is),
// except the fake CPU number, which belongs to the thread that set it.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <string>

#include "platform/platform.h"

namespace numaslab::testing_fakes {

enum class Call : int {
  kMap = 0,     // map and remap
  kAdvise,      // madvise(MADV_DONTNEED)
  kBind,        // mbind
  kThread,      // thread creation
  kMembarrier,  // membarrier (registration and fences)
  kSocket,      // the uevent socket
  kOpen,        // open(2) (/dev/shm)
  kTruncate,    // ftruncate(2)
  kMapFile,     // shared mapping of a file
  kAffinity,    // sched_getaffinity
  kCount
};

class FakePlatform {
 public:
  static constexpr std::uint64_t kForever = ~std::uint64_t{0} >> 1;
  static constexpr int kRealCpu = INT_MIN;

  static void install() { detail::set_platform(&kFake); }
  static void uninstall() {
    detail::set_platform(nullptr);
    stop_failing();
    sysfs_disable();
    clear_allowed();
    set_uevent_fd(-1);
    map_hook().store(nullptr);
  }
  // The next `count` calls of kind k after skipping `skip` of them fail.
  static void fail(Call k, std::uint64_t count, std::uint64_t skip = 0) {
    state(k).fail_count.store(0);
    state(k).skip.store(skip);
    state(k).fail_count.store(count);
  }
  static void fail_next(Call k, std::uint64_t count) { fail(k, count, 0); }
  static void stop_failing() {
    for (int i = 0; i < static_cast<int>(Call::kCount); ++i)
      state(static_cast<Call>(i)).fail_count.store(0);
  }
  static std::uint64_t calls(Call k) { return state(k).calls.load(); }
  static std::uint64_t failures(Call k) { return state(k).failures.load(); }
  static std::uint64_t pending(Call k) { return state(k).fail_count.load(); }
  static void reset_counts() {
    for (int i = 0; i < static_cast<int>(Call::kCount); ++i) {
      state(static_cast<Call>(i)).calls.store(0);
      state(static_cast<Call>(i)).failures.store(0);
    }
  }

  // --- fake sysfs: absolute paths under /sys ---
  static constexpr std::size_t kPathMax = 160;
  static constexpr std::size_t kTextMax = 8192;
  static constexpr int kEntries = 80;

  // Serves /sys from the table (empty at first) from now on.
  static void sysfs_enable() {
    std::lock_guard<std::mutex> g(sysfs().mu);
    sysfs().used = 0;
    sysfs().on = true;
  }
  static void sysfs_disable() {
    std::lock_guard<std::mutex> g(sysfs().mu);
    sysfs().on = false;
    sysfs().used = 0;
  }
  // Creates or replaces a file (its directories exist implicitly).
  static void sysfs_file(const char* path, const char* text) {
    std::lock_guard<std::mutex> g(sysfs().mu);
    Entry* e = find_locked(path);
    if (!e) e = add_locked(path);
    if (!e) return;
    e->dir = false;
    std::strncpy(e->text, text, kTextMax - 1);
    e->text[kTextMax - 1] = '\0';
  }
  // An (empty) directory.
  static void sysfs_dir(const char* path) {
    std::lock_guard<std::mutex> g(sysfs().mu);
    Entry* e = find_locked(path);
    if (!e) e = add_locked(path);
    if (e) e->dir = true;
  }
  static void sysfs_remove(const char* path) {
    std::lock_guard<std::mutex> g(sysfs().mu);
    Sysfs& s = sysfs();
    for (int i = 0; i < s.used; ++i) {
      if (std::strcmp(s.entries[i].path, path) == 0) {
        s.entries[i] = s.entries[--s.used];
        return;
      }
    }
  }
  // How often numaslab read a /sys file from the table.
  static std::uint64_t sysfs_reads() { return sysfs().reads.load(); }

  // --- fake CPU number for the calling thread (kRealCpu: the real one;
  // a negative number makes getcpu fail with ENOSYS) ---
  static void set_cpu(int cpu) { fake_cpu() = cpu; }

  // --- fake allowed CPUs of the process (until clear_allowed()) ---
  static void set_allowed(std::initializer_list<int> cpus) {
    for (auto& w : allowed().words) w.store(0);
    for (int c : cpus) allowed().words[c / 64].fetch_or(std::uint64_t{1} << (c % 64));
    allowed().on.store(true);
  }
  // CPUs 0..n-1.
  static void set_allowed_first(int n) {
    for (auto& w : allowed().words) w.store(0);
    for (int c = 0; c < n; ++c) allowed().words[c / 64].fetch_or(std::uint64_t{1} << (c % 64));
    allowed().on.store(true);
  }
  static void clear_allowed() { allowed().on.store(false); }

  // Runs fn(arg) once, on the thread that makes the next mapping, just
  // before it is made (a hook set while another is pending replaces it).
  static void before_next_map(void (*fn)(void*), void* arg) {
    map_hook_arg().store(arg);
    map_hook().store(fn);
  }

  // --- fake uevent socket: the next uevent_open() returns fd (then -1:
  // real again). The caller keeps the other end. ---
  static void set_uevent_fd(int fd) {
    const int old = uevent().exchange(fd);
    if (old >= 0) ::close(old);
  }

 private:
  struct State {
    std::atomic<std::uint64_t> calls{0}, failures{0}, skip{0}, fail_count{0};
  };
  struct Entry {
    char path[kPathMax];
    char text[kTextMax];
    bool dir;
  };
  struct Sysfs {
    std::mutex mu;
    bool on = false;
    int used = 0;
    Entry entries[kEntries];
    std::atomic<std::uint64_t> reads{0};
  };
  struct Allowed {
    std::atomic<bool> on{false};
    std::atomic<std::uint64_t> words[16];
  };

  static State& state(Call k) {
    static State s[static_cast<int>(Call::kCount)];
    return s[static_cast<int>(k)];
  }
  static Sysfs& sysfs() {
    static Sysfs s;
    return s;
  }
  static Allowed& allowed() {
    static Allowed a;
    return a;
  }
  static std::atomic<int>& uevent() {
    static std::atomic<int> fd{-1};
    return fd;
  }
  static std::atomic<void (*)(void*)>& map_hook() {
    static std::atomic<void (*)(void*)> fn{nullptr};
    return fn;
  }
  static std::atomic<void*>& map_hook_arg() {
    static std::atomic<void*> arg{nullptr};
    return arg;
  }
  static int& fake_cpu() {
    static thread_local int cpu = kRealCpu;
    return cpu;
  }
  static Entry* find_locked(const char* path) {
    Sysfs& s = sysfs();
    for (int i = 0; i < s.used; ++i)
      if (std::strcmp(s.entries[i].path, path) == 0) return &s.entries[i];
    return nullptr;
  }
  static Entry* add_locked(const char* path) {
    Sysfs& s = sysfs();
    if (s.used == kEntries || std::strlen(path) >= kPathMax) return nullptr;
    Entry* e = &s.entries[s.used++];
    std::strcpy(e->path, path);
    e->text[0] = '\0';
    e->dir = false;
    return e;
  }
  static bool under_sys(const char* path) { return std::strncmp(path, "/sys/", 5) == 0; }

  // Counts the call; true if it must fail.
  static bool should_fail(Call k) {
    State& s = state(k);
    s.calls.fetch_add(1);
    if (s.fail_count.load() == 0) return false;
    std::uint64_t skip = s.skip.load();
    while (skip > 0)
      if (s.skip.compare_exchange_weak(skip, skip - 1)) return false;
    std::uint64_t n = s.fail_count.load();
    while (n > 0) {
      if (s.fail_count.compare_exchange_weak(n, n == kForever ? n : n - 1)) {
        s.failures.fetch_add(1);
        return true;
      }
    }
    return false;
  }
  template <typename T>
  static T fail_with(int e, T value) {
    errno = e;
    return value;
  }
  static const detail::Platform& real() { return detail::real_platform(); }

  static void* map(std::size_t len, bool reserve) {
    if (void (*fn)(void*) = map_hook().exchange(nullptr)) fn(map_hook_arg().load());
    if (should_fail(Call::kMap)) return fail_with<void*>(ENOMEM, nullptr);
    return real().map(len, reserve);
  }
  static int unmap(void* p, std::size_t len) { return real().unmap(p, len); }
  static int advise(void* p, std::size_t len) {
    if (should_fail(Call::kAdvise)) return fail_with(EAGAIN, -1);
    return real().advise_dontneed(p, len);
  }
  static long bind(void* p, std::size_t len, const unsigned long* mask, unsigned long maxnode) {
    if (should_fail(Call::kBind)) return fail_with(EIO, -1L);
    return real().bind_preferred(p, len, mask, maxnode);
  }
  static void* remap(void* p, std::size_t old_len, std::size_t new_len, void* to) {
    if (should_fail(Call::kMap)) return fail_with<void*>(ENOMEM, nullptr);
    return real().remap(p, old_len, new_len, to);
  }
  static int thread(pthread_t* tid, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
    if (should_fail(Call::kThread)) return EAGAIN;
    return real().thread_create(tid, attr, fn, arg);
  }

  static long read_file(const char* path, char* buf, std::size_t cap) {
    {
      std::lock_guard<std::mutex> g(sysfs().mu);
      if (sysfs().on && under_sys(path)) {
        sysfs().reads.fetch_add(1);
        if (cap) buf[0] = '\0';
        const Entry* e = find_locked(path);
        if (!e) return fail_with(ENOENT, -1L);
        if (e->dir) return fail_with(EISDIR, -1L);
        const std::size_t n = std::strlen(e->text);
        if (n + 1 >= cap) return fail_with(EFBIG, -1L);
        std::memcpy(buf, e->text, n + 1);
        return static_cast<long>(n);
      }
    }
    return real().read_file(path, buf, cap);
  }
  static int probe_dir(const char* path) {
    {
      std::lock_guard<std::mutex> g(sysfs().mu);
      if (sysfs().on && under_sys(path)) {
        const std::size_t len = std::strlen(path);
        const Sysfs& s = sysfs();
        for (int i = 0; i < s.used; ++i) {
          const Entry& e = s.entries[i];
          if (std::strcmp(e.path, path) == 0) return e.dir ? 0 : fail_with(ENOTDIR, -1);
          if (std::strncmp(e.path, path, len) == 0 && e.path[len] == '/') return 0;
        }
        return fail_with(ENOENT, -1);
      }
    }
    return real().probe_dir(path);
  }
  static int open(const char* path, int flags, unsigned mode) {
    if (should_fail(Call::kOpen)) return fail_with(EACCES, -1);
    return real().open(path, flags, mode);
  }
  static int close(int fd) { return real().close(fd); }
  static int truncate(int fd, std::size_t len) {
    if (should_fail(Call::kTruncate)) return fail_with(ENOSPC, -1);
    return real().truncate(fd, len);
  }
  static long read_dir(int fd, void* buf, std::size_t len) { return real().read_dir(fd, buf, len); }
  static int unlink_at(int dir_fd, const char* name) { return real().unlink_at(dir_fd, name); }
  static void* map_file(int fd, std::size_t len) {
    if (should_fail(Call::kMapFile)) return fail_with<void*>(ENOMEM, nullptr);
    return real().map_file(fd, len);
  }
  static int probe_process(int pid) { return real().probe_process(pid); }

  static int getcpu() {
    const int c = fake_cpu();
    if (c == kRealCpu) return real().getcpu();
    if (c < 0) return fail_with(ENOSYS, -1);
    return c;
  }
  static int affinity(unsigned long* mask, std::size_t bytes) {
    if (should_fail(Call::kAffinity)) return fail_with(EINVAL, -1);
    if (!allowed().on.load()) return real().affinity(mask, bytes);
    std::memset(mask, 0, bytes);
    constexpr std::size_t kLongBits = 8 * sizeof(unsigned long);
    for (std::size_t c = 0; c < 64 * 16 && c / kLongBits < bytes / sizeof(unsigned long); ++c)
      if ((allowed().words[c / 64].load() >> (c % 64)) & 1)
        mask[c / kLongBits] |= 1UL << (c % kLongBits);
    return 0;
  }
  static long membarrier(int cmd, unsigned flags, int cpu) {
    if (should_fail(Call::kMembarrier)) return fail_with(EINVAL, -1L);
    return real().membarrier(cmd, flags, cpu);
  }
  static int uevent_open() {
    if (should_fail(Call::kSocket)) return fail_with(EPERM, -1);
    const int fd = uevent().exchange(-1);
    return fd >= 0 ? fd : real().uevent_open();
  }
  static int wait_readable(int fd, int timeout_ms) { return real().wait_readable(fd, timeout_ms); }
  static long receive(int fd, void* buf, std::size_t len) { return real().receive(fd, buf, len); }

  static constexpr detail::Platform kFake{
      .map = map,
      .unmap = unmap,
      .advise_dontneed = advise,
      .bind_preferred = bind,
      .remap = remap,
      .thread_create = thread,
      .read_file = read_file,
      .probe_dir = probe_dir,
      .open = open,
      .close = close,
      .truncate = truncate,
      .read_dir = read_dir,
      .unlink_at = unlink_at,
      .map_file = map_file,
      .probe_process = probe_process,
      .getcpu = getcpu,
      .affinity = affinity,
      .membarrier = membarrier,
      .uevent_open = uevent_open,
      .wait_readable = wait_readable,
      .receive = receive,
  };
};

// Fails every mapping while alive (out of memory), then restores the real
// platform's behaviour.
struct NoNewMemory {
  NoNewMemory() {
    FakePlatform::install();
    FakePlatform::fail_next(Call::kMap, FakePlatform::kForever);
  }
  ~NoNewMemory() { FakePlatform::stop_failing(); }
};

// A fake sysfs for one test (FakePlatform's table), with paths relative to
// /sys: installs the fake platform and serves /sys from a new, empty table
// until the last FakeSysfs alive ends (there is one table: a new one
// replaces the tree of any still alive). Changing a file while numaslab
// runs is what the kernel does when a CPU goes offline.
class FakeSysfs {
 public:
  FakeSysfs() {
    FakePlatform::install();
    FakePlatform::sysfs_enable();
    ++depth();
  }
  ~FakeSysfs() {
    if (--depth() == 0) FakePlatform::sysfs_disable();
  }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  FakeSysfs& file(const std::string& rel, const std::string& text) {
    FakePlatform::sysfs_file(("/sys/" + rel).c_str(), text.c_str());
    return *this;
  }
  FakeSysfs& dir(const std::string& rel) {
    FakePlatform::sysfs_dir(("/sys/" + rel).c_str());
    return *this;
  }
  FakeSysfs& remove(const std::string& rel) {
    FakePlatform::sysfs_remove(("/sys/" + rel).c_str());
    return *this;
  }
  // devices/system/cpu/{possible,online}.
  FakeSysfs& cpus(const std::string& possible, const std::string& online_cpus) {
    file("devices/system/cpu/possible", possible + "\n");
    return online(online_cpus);
  }
  FakeSysfs& online(const std::string& cpulist) {
    return file("devices/system/cpu/online", cpulist + "\n");
  }
  // devices/system/node/node<n>/cpulist.
  FakeSysfs& node(int n, const std::string& cpulist) {
    return file("devices/system/node/node" + std::to_string(n) + "/cpulist", cpulist + "\n");
  }
  FakeSysfs& has_memory(const std::string& nodes) {
    return file("devices/system/node/has_memory", nodes + "\n");
  }

 private:
  static int& depth() {
    static int n = 0;
    return n;
  }
};

}  // namespace numaslab::testing_fakes
