#include "stats/publish.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/fork_gate.h"
#include "base/format.h"
#include "base/lock.h"
#include "platform/platform.h"

namespace numaslab::detail {

namespace {

Mutex g_publish_mutex{LockRank::kPublish, LockName{"publish_mutex", nullptr, -1}};
PublishHeader* g_header NS_GUARDED_BY(g_publish_mutex) = nullptr;
std::atomic<bool> g_on{false};
char g_path[64];

std::uint64_t realtime_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

// A process killed by a signal cannot remove its file: when a process starts
// publishing it removes the files of processes that no longer exist. Reads
// the directory with getdents64 into a stack buffer (opendir allocates).
void remove_stale_files() {
  const Platform& os = platform();
  const int dir = os.open("/dev/shm", O_RDONLY | O_DIRECTORY, 0);
  if (dir < 0) return;
  alignas(8) char buf[4096];
  for (;;) {
    const long n = os.read_dir(dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
      unsigned short reclen;
      __builtin_memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char* name = buf + off + 19;
      off += reclen;
      if (__builtin_strncmp(name, "numaslab.", 9) != 0) continue;
      long pid = 0;
      const char* p = name + 9;
      for (; *p >= '0' && *p <= '9' && pid < (1L << 30); ++p) pid = pid * 10 + (*p - '0');
      if (*p != '\0' || pid <= 0 || pid == ::getpid()) continue;
      if (os.probe_process(static_cast<int>(pid)) == 0 || errno != ESRCH) continue;
      os.unlink_at(dir, name);
    }
  }
  os.close(dir);
}

}  // namespace

void publish_path(int pid, char* buf, std::size_t len) {
  format(buf, len, "/dev/shm/numaslab.%d", pid);
}

int publish_start() {
  GateSection gate;
  {
    LockGuard<Mutex> g(g_publish_mutex);
    if (g_header) return 0;
    remove_stale_files();
    const Platform& os = platform();
    publish_path(static_cast<int>(::getpid()), g_path, sizeof g_path);
    const int fd = os.open(g_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -errno;
    if (os.truncate(fd, kPublishBytes) != 0) {
      const int e = errno;
      os.close(fd);
      os.unlink_at(AT_FDCWD, g_path);
      return -e;
    }
    void* p = os.map_file(fd, kPublishBytes);
    os.close(fd);
    if (!p) {
      os.unlink_at(AT_FDCWD, g_path);
      return -ENOMEM;
    }
    auto* h = static_cast<PublishHeader*>(p);
    std::memcpy(h->magic, kPublishMagic, sizeof h->magic);
    h->version = 1;
    h->pid = static_cast<std::uint32_t>(::getpid());
    h->seq.store(0, std::memory_order_relaxed);
    h->length = 0;
    h->capacity = kPublishBytes - sizeof(PublishHeader);
    g_header = h;
    g_on.store(true, std::memory_order_release);
  }
  return 0;
}

void publish_stop() {
  GateSection gate;
  LockGuard<Mutex> g(g_publish_mutex);
  if (!g_header) return;
  g_on.store(false, std::memory_order_release);
  platform().unmap(g_header, kPublishBytes);
  platform().unlink_at(AT_FDCWD, g_path);
  g_header = nullptr;
}

bool publishing() { return g_on.load(std::memory_order_acquire); }

void publish_now(const ServicesStatus& services) {
  GateSection gate;
  if (!publishing()) return;
  LockGuard<Mutex> g(g_publish_mutex);
  PublishHeader* h = g_header;
  if (!h) return;
  char* text = reinterpret_cast<char*>(h + 1);
  h->seq.fetch_add(1, std::memory_order_acq_rel);  // odd: writing
  std::size_t n = slabinfo_json(text, h->capacity, services);
  h->length = n < h->capacity ? n : h->capacity - 1;
  h->updated_ms = realtime_ms();
  h->seq.fetch_add(1, std::memory_order_release);  // even: stable
}

void publish_lock_for_fork() NS_NO_THREAD_SAFETY_ANALYSIS { g_publish_mutex.fork_lock(); }
void publish_unlock_after_fork() NS_NO_THREAD_SAFETY_ANALYSIS { g_publish_mutex.fork_unlock(); }

void publish_forget_in_child() NS_NO_THREAD_SAFETY_ANALYSIS {
  // Single-threaded: the child's only thread runs its fork handler.
  if (!g_header) return;
  g_on.store(false, std::memory_order_release);
  platform().unmap(g_header, kPublishBytes);
  g_header = nullptr;
  g_path[0] = '\0';
}

}  // namespace numaslab::detail
