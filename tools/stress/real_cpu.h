// numaslab-stress — real CPU hotplug through /sys/devices/system/cpu/cpuN/online,
// with the guarantee that every CPU the tool took offline is brought back:
// on normal exit, on error, on SIGINT/SIGTERM and fatal signals (handlers that
// use only async-signal-safe calls) and from an atexit hook.
#pragma once

#include <string>
#include <vector>

namespace stress::realcpu {

// Prepares the online-file paths of `cpus` (never CPU 0) and installs the
// atexit hook and the signal handlers. false with a reason if a CPU has no
// writable online file.
bool arm(const std::vector<int>& cpus, std::string* why);

// Reads cpuN/online: 1, 0, or -errno.
int read_online(int cpu);
// Writes 0/1 to cpuN/online. Marks the CPU as touched *before* writing 0, so
// that a signal arriving mid-write still restores it. 0 or -errno.
int write_online(int cpu, bool online);

// Writes 1 to every touched CPU's online file. Async-signal-safe.
// Returns the number of CPUs whose write failed.
int restore_all();

// True once SIGINT asked for a graceful stop (the first SIGINT restores the
// CPUs and sets this; a second one kills the process).
bool interrupted();
// Installs the SIGINT handler alone (sim mode: graceful stop, no CPUs).
void install_sigint_only();

// The contents of /sys/devices/system/cpu/online ("0-1"), for the report.
std::string system_online_list();

}  // namespace stress::realcpu
