#include "platform/platform.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace numaslab::detail {

namespace {

void* real_map(std::size_t len, bool reserve) {
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve ? MAP_NORESERVE : 0);
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}
int real_unmap(void* p, std::size_t len) { return ::munmap(p, len); }
int real_advise(void* p, std::size_t len) { return ::madvise(p, len, MADV_DONTNEED); }
long real_bind(void* p, std::size_t len, const unsigned long* mask, unsigned long maxnode) {
  constexpr int kMpolPreferred = 1;
  return ::syscall(SYS_mbind, p, len, kMpolPreferred, mask, maxnode, 0U);
}
void* real_remap(void* p, std::size_t old_len, std::size_t new_len, void* to) {
  void* q = to ? ::mremap(p, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, to)
               : ::mremap(p, old_len, new_len, 0);
  return q == MAP_FAILED ? nullptr : q;
}

int real_thread(pthread_t* tid, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  return ::pthread_create(tid, attr, fn, arg);
}

int real_open(const char* path, int flags, unsigned mode) {
  int fd;
  do fd = ::open(path, flags | O_CLOEXEC, static_cast<mode_t>(mode));
  while (fd < 0 && errno == EINTR);
  return fd;
}
int real_close(int fd) { return ::close(fd); }

// open/read/close only: fopen and friends allocate.
long real_read_file(const char* path, char* buf, std::size_t cap) {
  if (cap == 0) {
    errno = EFBIG;
    return -1;
  }
  buf[0] = '\0';
  const int fd = real_open(path, O_RDONLY, 0);
  if (fd < 0) return -1;
  std::size_t len = 0;
  int err = 0;
  for (;;) {
    if (len + 1 >= cap) {  // no room to tell a full buffer from a longer file
      err = EFBIG;
      break;
    }
    const ssize_t k = ::read(fd, buf + len, cap - 1 - len);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) err = errno;
    if (k <= 0) break;
    len += static_cast<std::size_t>(k);
  }
  ::close(fd);
  buf[err ? 0 : len] = '\0';
  if (err) {
    errno = err;
    return -1;
  }
  return static_cast<long>(len);
}
int real_probe_dir(const char* path) {
  const int fd = real_open(path, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return -1;
  ::close(fd);
  return 0;
}
int real_truncate(int fd, std::size_t len) { return ::ftruncate(fd, static_cast<off_t>(len)); }
long real_read_dir(int fd, void* buf, std::size_t len) {
  return ::syscall(SYS_getdents64, fd, buf, len);
}
int real_unlink_at(int dir_fd, const char* name) { return ::unlinkat(dir_fd, name, 0); }
void* real_map_file(int fd, std::size_t len) {
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : p;
}
int real_probe_process(int pid) { return ::kill(static_cast<pid_t>(pid), 0); }

int real_getcpu() { return ::sched_getcpu(); }
// The system call itself, as glibc's wrapper would make it: the kernel fills
// the bytes of its own mask size, the rest reads as zero. (The wrapper lives
// in a part of libc's text few programs run; see base/clock.h.)
int real_affinity(unsigned long* mask, std::size_t bytes) {
  std::memset(mask, 0, bytes);
  return ::syscall(SYS_sched_getaffinity, ::getpid(), bytes, mask) < 0 ? -1 : 0;
}
long real_membarrier(int cmd, unsigned flags, int cpu) {
  return ::syscall(SYS_membarrier, cmd, flags, cpu);
}

int real_uevent_open() {
  const int fd =
      ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) return -1;
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1;  // the kernel's uevent broadcast group
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}
int real_wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms);
}
long real_receive(int fd, void* buf, std::size_t len) { return ::recv(fd, buf, len, MSG_DONTWAIT); }

constexpr Platform kReal{
    .map = real_map,
    .unmap = real_unmap,
    .advise_dontneed = real_advise,
    .bind_preferred = real_bind,
    .remap = real_remap,
    .thread_create = real_thread,
    .read_file = real_read_file,
    .probe_dir = real_probe_dir,
    .open = real_open,
    .close = real_close,
    .truncate = real_truncate,
    .read_dir = real_read_dir,
    .unlink_at = real_unlink_at,
    .map_file = real_map_file,
    .probe_process = real_probe_process,
    .getcpu = real_getcpu,
    .affinity = real_affinity,
    .membarrier = real_membarrier,
    .uevent_open = real_uevent_open,
    .wait_readable = real_wait_readable,
    .receive = real_receive,
};
std::atomic<const Platform*> g_platform{&kReal};

}  // namespace

namespace platform_state {
std::atomic<bool> g_replaced{false};
}  // namespace platform_state

const Platform& real_platform() { return kReal; }
const Platform& platform() { return *g_platform.load(std::memory_order_acquire); }
void set_platform(const Platform* p) {
  if (!p) p = &kReal;
  g_platform.store(p, std::memory_order_release);
  platform_state::g_replaced.store(p != &kReal, std::memory_order_release);
}

}  // namespace numaslab::detail
