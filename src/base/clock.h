// numaslab — time and waiting: the coarse monotonic clock in milliseconds, a
// sleep, giving the CPU away.
//
// Contract:
//  * Each is one system call, made with syscall(2) rather than libc's
//    clock_gettime, nanosleep and sched_yield. Those wrappers sit in parts of
//    libc's text that many programs never run, and under the malloc shim
//    every such 64 KiB part the allocator runs is mapped (the kernel maps
//    file pages around a fault) and counted in the program's resident
//    memory; syscall(2) sits beside read, write and mmap, which every program
//    has mapped. The cost is the vDSO's shortcut for the clock: about 0.1 µs
//    more per read, on paths that read it once per page run freed or per
//    service tick.
//  * Nothing here allocates or takes a lock; all are async-signal-safe.
#pragma once

#include <cstdint>

namespace numaslab::detail {

// CLOCK_MONOTONIC_COARSE in milliseconds (a few ms of resolution).
std::uint64_t coarse_clock_ms();

// Sleeps for ms milliseconds (less when a signal interrupts it).
void sleep_ms(std::uint64_t ms);

// sched_yield(2).
void yield_cpu();

}  // namespace numaslab::detail
