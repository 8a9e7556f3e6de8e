// Child processes and captured output for tests that check what numaslab
// prints or how a fresh process starts.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

namespace numaslab::test_support {

// Runs fn() with fd 2 redirected into a pipe; returns what was written.
template <class Fn>
std::string capture_stderr(Fn fn) {
  int p[2];
  if (pipe(p) != 0) return "<pipe failed>";
  fflush(stderr);
  int saved = dup(2);
  dup2(p[1], 2);
  close(p[1]);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  return out;
}

// Runs this test binary again with --gtest_filter=<filter>, the current
// environment plus `extra` ("NAME=value"; replaces variables of that name).
// Returns the child's wait status; *output gets its stdout+stderr.
inline int run_self(const std::string& filter, const std::vector<std::string>& extra,
                    std::string* output) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool replaced = false;
    for (const auto& x : extra)
      if (kv.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) replaced = true;
    if (!replaced) env.push_back(kv);
  }
  for (const auto& x : extra) env.push_back(x);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string f = "--gtest_filter=" + filter;
  char* argv[] = {exe.data(), f.data(), nullptr};

  int p[2];
  if (pipe(p) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  pid_t pid;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n;
  output->clear();
  while ((n = read(p[0], buf, sizeof buf)) > 0) output->append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// This process's resident memory (/proc/self/statm), in bytes.
inline long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace numaslab::test_support
