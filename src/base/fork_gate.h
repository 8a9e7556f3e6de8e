// numaslab — the fork gate: fork waits until no numaslab operation is under
// way, so a child never inherits a lock held or objects in flight.
//
// Contract:
//  * Every numaslab operation that is not an rseq fast path (slow paths, the
//    C API's other entry points, the reaper's, watcher's and publisher's
//    work) runs inside a GateSection. Sections nest per thread; only the
//    outermost counts.
//  * gate_close() (the atfork prepare handler) bars new outermost sections
//    and waits until every section under way has ended; a thread that meets
//    a closed gate waits, holding nothing of numaslab's, until gate_open().
//    A fast path never enters the gate: its commit is one store, so memory
//    is consistent at every instant it can be copied.
//  * gate_open() reopens it (parent); gate_reset_in_child() reopens it in
//    the child, where the other threads and their counts are gone.
//  * A fork from inside a section (a constructor callback that forks) cannot
//    wait for itself: gate_close() then returns false and does not close.
// The counters are striped over cache lines (a thread keeps its stripe), so
// sections on different CPUs touch different lines.
#pragma once

namespace numaslab::detail {

// Enter and leave a section (out of line: the per-thread depth is a
// thread_local of fork_gate.cc's own).
void gate_enter();
void gate_exit();

class GateSection {
 public:
  GateSection() { gate_enter(); }
  ~GateSection() { gate_exit(); }
  GateSection(const GateSection&) = delete;
  GateSection& operator=(const GateSection&) = delete;
};

bool gate_close();
void gate_open();
void gate_reset_in_child();
bool gate_in_section();

}  // namespace numaslab::detail
