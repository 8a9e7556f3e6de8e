// numaslab — the watcher: turns system CPU changes into hotplug events.
//
// Contract (real and map modes; a no-op in sim mode):
//  * A CPU is "up for this process" iff the kernel reports it online
//    (<sysfs>/devices/system/cpu/online) AND it is in the process's allowed
//    set (affinity of the main thread — cpusets and taskset). watch_poll()
//    compares that with numaslab's online mask and runs hotplug_cpu_down /
//    hotplug_cpu_up for every difference (never downing the last online CPU).
//  * A background thread polls every NUMASLAB_WATCH_MS (default 100 ms; 0
//    disables it) and also wakes at once on a kernel uevent for a CPU
//    (NETLINK_KOBJECT_UEVENT, when the socket can be opened), so a downed
//    CPU's caches are drained within one interval.
// Locks: none of its own; hotplug events take the registry mutex.
#pragma once

namespace numaslab::detail {

int watch_poll();
// Starts the background watcher if the mode and options ask for it. Idempotent.
// Starts the background watcher (real/map modes, NUMASLAB_WATCH_MS > 0).
// False if the thread could not be created (the error: watcher_start_error()).
bool watcher_start();
int watcher_start_error();
bool watcher_running();
// In a fork child: the watcher thread is gone; its socket is closed and a
// new watcher starts with the child's services.
void watcher_forget_in_child();

}  // namespace numaslab::detail
