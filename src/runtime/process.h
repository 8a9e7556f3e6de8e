// numaslab — process-wide handlers: what happens at exit (and, for the
// malloc replacement, around fork).
//
// Contract: process_handlers_install() registers the exit handler once,
// after the first successful start-up and outside every numaslab lock
// (atexit may allocate, and with the malloc replacement that allocation
// comes back to numaslab). The fork handlers are registered when the library
// is loaded, before any start-up, so a fork during the first one is covered
// (process.cc says what prepare, parent and child do). At exit,
// NUMASLAB_STATS=1 prints the statistics summary (stats/summary.h) to
// stderr, and publication stops, which removes /dev/shm/numaslab.<pid>.
#pragma once

namespace numaslab::detail {

void process_handlers_install();

}  // namespace numaslab::detail
