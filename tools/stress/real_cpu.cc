#include "real_cpu.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace stress::realcpu {

namespace {

constexpr int kMaxTracked = 1024;
constexpr const char* kCpuDir = "/sys/devices/system/cpu";

// Everything the signal handler reads is prepared before it is installed.
char g_paths[kMaxTracked][64];
int g_cpu_ids[kMaxTracked];
int g_count = 0;
volatile sig_atomic_t g_touched[kMaxTracked];
volatile sig_atomic_t g_interrupted = 0;
bool g_atexit_registered = false;

int slot_of(int cpu) {
  for (int i = 0; i < g_count; ++i)
    if (g_cpu_ids[i] == cpu) return i;
  return -1;
}

// Async-signal-safe: open, write, close only.
bool write_file(const char* path, char v) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::write(fd, &v, 1);
  ::close(fd);
  return n == 1;
}

void say(const char* s) {
  ssize_t r = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)r;
}

void on_signal(int sig) {
  const int saved_errno = errno;
  const int failed = restore_all();
  if (g_count > 0) say(failed ? "\nnumaslab-stress: signal: could NOT bring every CPU back online!\n"
                              : "\nnumaslab-stress: signal: every CPU taken offline is online again\n");
  if (sig == SIGINT && !g_interrupted) {
    g_interrupted = 1;
    say("numaslab-stress: interrupted, stopping (Ctrl-C again to kill)\n");
    errno = saved_errno;
    return;
  }
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  raise(sig);
  errno = saved_errno;
}

void install(int sig) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

void restore_at_exit() { restore_all(); }

}  // namespace

bool arm(const std::vector<int>& cpus, std::string* why) {
  g_count = 0;
  for (int cpu : cpus) {
    if (cpu == 0) continue;  // never touched
    if (g_count == kMaxTracked) break;
    std::snprintf(g_paths[g_count], sizeof g_paths[g_count], "%s/cpu%d/online", kCpuDir, cpu);
    if (::access(g_paths[g_count], W_OK) != 0) {
      *why = std::string(g_paths[g_count]) + ": " + std::strerror(errno);
      return false;
    }
    g_cpu_ids[g_count] = cpu;
    g_touched[g_count] = 0;
    ++g_count;
  }
  if (!g_atexit_registered) {
    std::atexit(restore_at_exit);
    g_atexit_registered = true;
  }
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE})
    install(sig);
  return true;
}

void install_sigint_only() { install(SIGINT); }

int read_online(int cpu) {
  char path[64];
  std::snprintf(path, sizeof path, "%s/cpu%d/online", kCpuDir, cpu);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char c = 0;
  const ssize_t n = ::read(fd, &c, 1);
  const int err = errno;
  ::close(fd);
  if (n != 1) return n < 0 ? -err : -EIO;
  return c == '1' ? 1 : 0;
}

int write_online(int cpu, bool online) {
  const int i = slot_of(cpu);
  if (i < 0) return -EPERM;  // not armed for this CPU (e.g. CPU 0)
  if (!online) g_touched[i] = 1;
  const int fd = ::open(g_paths[i], O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const char v = online ? '1' : '0';
  const ssize_t n = ::write(fd, &v, 1);
  const int err = errno;
  ::close(fd);
  if (n != 1) return n < 0 ? -err : -EIO;
  return 0;
}

int restore_all() {
  int failed = 0;
  for (int i = 0; i < g_count; ++i)
    if (g_touched[i] && !write_file(g_paths[i], '1')) ++failed;
  return failed;
}

bool interrupted() { return g_interrupted != 0; }

std::string system_online_list() {
  char buf[256] = {};
  const int fd = ::open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "?";
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  std::string s(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace stress::realcpu
