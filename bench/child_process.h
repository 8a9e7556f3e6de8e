// numaslab-bench: child processes, shared by both suites.
//
//   run_process   fork + exec with a given environment, the lines the child
//                 writes to a pipe, a timeout (SIGKILL), the wait status;
//   launch        the --launch helper: runs a program with LD_PRELOAD set
//                 and reports its wall time and peak RSS (see below);
//   find_in_linker_cache, self_exe, basename_real: where things are.
#pragma once

#include <string>
#include <vector>

namespace peer_bench {

inline constexpr int kResultFd = 3;  // where a timed-suite child writes its lines

struct ChildResult {
  std::vector<std::string> lines;  // from the result pipe
  int status = 0;                  // wait status
  bool timed_out = false;
  std::string spawn_error;
  bool ok() const;
  std::string describe() const;  // why it is not ok()
};

// "exit status 3", "killed by signal Aborted", ...
std::string describe_wait_status(int status);

// The environment for a child: this process's, changed. "NAME=value" sets,
// "NAME" (no '=') removes.
std::vector<std::string> make_env(const std::vector<std::string>& changes);

// Runs argv[0] (found through PATH) with env. The child's pipe_fd is the
// write end of a pipe; the lines written to it come back in the result. A
// child still running after timeout_s seconds is killed.
ChildResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                        int timeout_s, bool quiet_stderr, int pipe_fd = kResultFd);

std::string self_exe();
// The path the dynamic linker's cache (ldconfig -p) gives a soname for this
// machine's ABI, or "" when the library is not installed.
std::string find_in_linker_cache(const std::string& soname);
// The file name a path resolves to, symlinks followed.
std::string basename_real(const std::string& path);

// The launcher: `numaslab-bench --launch PRELOAD PROGRAM [ARGS...]` forks,
// runs PROGRAM with LD_PRELOAD=PRELOAD (unset when PRELOAD is empty), waits
// for it with wait4 and prints one line to stdout:
//   measured status <wait status> maxrss_kib <ru_maxrss> wall_ns <ns>
// Why a separate process: ru_maxrss counts the memory of the process that
// forked the child (a child's peak starts at its parent's resident size,
// kept across exec), so the program is forked from this small, freshly
// started process and not from the parent that has run the whole suite.
// PROGRAM's stdout is the launcher's and so is its stderr (so what it says
// when it fails reaches the parent with its other lines); it dies with the
// launcher (PR_SET_PDEATHSIG).
inline constexpr const char* kLaunchFlag = "--launch";
int launch_main(int argc, char** argv);

struct Measurement {
  bool valid = false;  // a "measured" line was found
  int status = 0;      // the program's wait status
  double maxrss_bytes = 0;
  double seconds = 0;
};
Measurement parse_measurement(const std::vector<std::string>& lines);

}  // namespace peer_bench
