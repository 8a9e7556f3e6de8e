// numaslab-bench: child processes (child_process.h).
#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "report_common.h"

extern char** environ;

namespace peer_bench {

bool ChildResult::ok() const {
  return spawn_error.empty() && !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string ChildResult::describe() const {
  if (!spawn_error.empty()) return spawn_error;
  if (timed_out) return "timed out (killed)";
  return describe_wait_status(status);
}

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  return "?";
}

std::vector<std::string> make_env(const std::vector<std::string>& changes) {
  std::vector<std::string> env;
  auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  std::set<std::string> touched;
  for (const auto& c : changes) touched.insert(name_of(c));
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (!touched.count(name_of(kv))) env.push_back(kv);
  }
  for (const auto& c : changes)
    if (c.find('=') != std::string::npos) env.push_back(c);
  return env;
}

ChildResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                        int timeout_s, bool quiet_stderr, int pipe_fd) {
  ChildResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    r.spawn_error = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return r;
  }
  if (pid == 0) {
    // dup2 clears close-on-exec on the copy: only pipe_fd reaches the child.
    if (dup2(fds[1], pipe_fd) < 0) _exit(127);
    if (quiet_stderr) {
      int dn = open("/dev/null", O_WRONLY);
      if (dn >= 0) dup2(dn, 2);
    }
    execvpe(av[0], av.data(), ev.data());
    _exit(127);
  }
  close(fds[1]);

  std::string buf;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) continue;
    char chunk[4096];
    ssize_t got = read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the child (and anything it started) closed the pipe
    buf.append(chunk, static_cast<std::size_t>(got));
  }
  close(fds[0]);
  while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  for (auto& line : split(buf, '\n'))
    if (!line.empty()) r.lines.push_back(line);
  return r;
}

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : p.string();
}

std::string find_in_linker_cache(const std::string& soname) {
#if defined(__x86_64__)
  const std::string abi = "x86-64";
#elif defined(__aarch64__)
  const std::string abi = "AArch64";
#else
  const std::string abi;
#endif
  static std::map<std::string, std::string> found;
  if (auto it = found.find(soname); it != found.end()) return it->second;
  std::string path;
  // Lines: "\tlibjemalloc.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libjemalloc.so.2"
  if (FILE* f = popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null", "r")) {
    char line[1024];
    while (path.empty() && std::fgets(line, sizeof line, f)) {
      std::istringstream in(line);
      std::string name, tag, arrow, target;
      if (!(in >> name >> tag >> arrow >> target) || name != soname || arrow != "=>") continue;
      if (abi.empty() || tag.find(abi) != std::string::npos) path = target;
    }
    pclose(f);
  }
  found[soname] = path;
  return path;
}

std::string basename_real(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::canonical(path, ec);
  return (ec ? std::filesystem::path(path) : p).filename().string();
}

int launch_main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s %s PRELOAD PROGRAM [ARGS...]\n", argv[0], kLaunchFlag);
    return 2;
  }
  const char* preload = argv[2];
  const pid_t launcher = getpid();
  timespec t0{}, t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "numaslab-bench: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    // A launcher killed for a timeout takes the program with it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != launcher) _exit(127);
    if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0) _exit(127);
    if (*preload)
      setenv("LD_PRELOAD", preload, 1);
    else
      unsetenv("LD_PRELOAD");
    execv(argv[3], argv + 3);
    std::fprintf(stderr, "numaslab-bench: cannot run %s: %s\n", argv[3], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) {
      std::fprintf(stderr, "numaslab-bench: wait4: %s\n", std::strerror(errno));
      return 1;
    }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const long long ns =
      static_cast<long long>(t1.tv_sec - t0.tv_sec) * 1'000'000'000LL + (t1.tv_nsec - t0.tv_nsec);
  std::printf("measured status %d maxrss_kib %ld wall_ns %lld\n", status, ru.ru_maxrss, ns);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

Measurement parse_measurement(const std::vector<std::string>& lines) {
  Measurement m;
  for (const std::string& line : lines) {
    int status = 0;
    long kib = 0;
    long long ns = 0;
    if (std::sscanf(line.c_str(), "measured status %d maxrss_kib %ld wall_ns %lld", &status, &kib,
                    &ns) == 3) {
      m.valid = true;
      m.status = status;
      m.maxrss_bytes = static_cast<double>(kib) * 1024.0;
      m.seconds = static_cast<double>(ns) * 1e-9;
    }
  }
  return m;
}

}  // namespace peer_bench
