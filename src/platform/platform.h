// numaslab — the system-call seam: the system calls that depend on the
// machine go through one Platform — memory (mmap, munmap, madvise, mbind,
// mremap), threads, files (sysfs, /dev/shm), the CPU (getcpu, affinity,
// membarrier) and the kernel's uevent socket. (Clocks, sleeps, getpid and
// the diagnostics' write(2) do not.)
//
// Contract:
//  * real_platform() makes the system calls. A test installs another
//    implementation (a fake that fails the Nth call, a fake sysfs, a fake
//    CPU number) with set_platform() at a quiescent point, and puts the real
//    one back with set_platform(nullptr). Nothing in the library knows
//    whether the platform is a fake: there is no fault switch or test path
//    in shipped code.
//  * Each entry reports failure the system-call way (nullptr / -1 with
//    errno, or an error number for thread creation) and never aborts.
//  * The functions allocate nothing and take no lock.
//  * A hot path (one call per allocation) must not pay an indirect call:
//    it calls the system directly while platform_replaced() is false (one
//    relaxed load) and goes through platform() otherwise. Only getcpu has
//    such a caller (cpu/current_cpu.cc); every other entry is on a slow path.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>

namespace numaslab::detail {

struct Platform {
  // --- memory ---
  // Anonymous private read/write mapping (MAP_NORESERVE when `reserve`);
  // nullptr on failure.
  void* (*map)(std::size_t len, bool reserve);
  int (*unmap)(void* p, std::size_t len);
  int (*advise_dontneed)(void* p, std::size_t len);
  // mbind(p, len, MPOL_PREFERRED, mask, maxnode, 0).
  long (*bind_preferred)(void* p, std::size_t len, const unsigned long* mask,
                         unsigned long maxnode);
  // mremap of a whole mapping: in place (to == nullptr), or moved onto the
  // mapping at `to` (MREMAP_MAYMOVE | MREMAP_FIXED, which replaces it).
  // The new address, or nullptr on failure.
  void* (*remap)(void* p, std::size_t old_len, std::size_t new_len, void* to);

  // --- threads ---
  // pthread_create: 0 or an error number.
  int (*thread_create)(pthread_t* tid, const pthread_attr_t* attr, void* (*fn)(void*), void* arg);

  // --- files (sysfs, /dev/shm) ---
  // Reads the whole (small) file at `path` into buf, NUL-terminated: its
  // length, or -1 with errno (EFBIG when it does not fit in cap - 1 bytes).
  long (*read_file)(const char* path, char* buf, std::size_t cap);
  // 0 if `path` is a directory, else -1 with errno.
  int (*probe_dir)(const char* path);
  // open(2) (O_CLOEXEC is added), close(2), ftruncate(2), getdents64(2) and
  // unlinkat(2) with flags 0 (dir_fd may be AT_FDCWD).
  int (*open)(const char* path, int flags, unsigned mode);
  int (*close)(int fd);
  int (*truncate)(int fd, std::size_t len);
  long (*read_dir)(int fd, void* buf, std::size_t len);
  int (*unlink_at)(int dir_fd, const char* name);
  // A shared read/write mapping of the first `len` bytes of fd; nullptr on
  // failure.
  void* (*map_file)(int fd, std::size_t len);
  // kill(pid, 0): 0 if the process exists (or -1 with errno: ESRCH if not).
  int (*probe_process)(int pid);

  // --- CPUs ---
  // sched_getcpu: the calling thread's CPU, or -1 with errno.
  int (*getcpu)();
  // sched_getaffinity of the process (its main thread) into a mask of
  // `bytes` bytes: 0, or -1 with errno.
  int (*affinity)(unsigned long* mask, std::size_t bytes);
  // membarrier(cmd, flags, cpu_id): 0 (or a command's result), or -1 with errno.
  long (*membarrier)(int cmd, unsigned flags, int cpu);

  // --- the kernel's uevents ---
  // A non-blocking netlink socket bound to the kernel's uevent broadcast
  // group (NETLINK_KOBJECT_UEVENT): its fd, or -1 with errno.
  int (*uevent_open)();
  // poll(2) for POLLIN on one fd: > 0 readable, 0 timed out, -1 with errno.
  int (*wait_readable)(int fd, int timeout_ms);
  // recv(2) without blocking: bytes, or -1 with errno (EAGAIN when empty).
  long (*receive)(int fd, void* buf, std::size_t len);
};

const Platform& real_platform();
const Platform& platform();
void set_platform(const Platform* p);  // nullptr: the real one

namespace platform_state {
// True while a platform other than the real one is installed.
extern std::atomic<bool> g_replaced;
}  // namespace platform_state
inline bool platform_replaced() {
  return platform_state::g_replaced.load(std::memory_order_relaxed);
}

}  // namespace numaslab::detail
