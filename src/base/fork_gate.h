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

#include <atomic>
#include <cstdint>

namespace numaslab::detail {

inline constexpr int kGateStripes = 64;

struct alignas(64) GateStripe {
  std::atomic<std::uint32_t> sections{0};
};

extern GateStripe g_gate_stripes[kGateStripes];
extern std::atomic<bool> g_gate_closed;

struct GateThread {
  std::uint32_t depth;
  std::uint32_t stripe;  // 1 + index; 0 until the first section
};
extern thread_local GateThread t_gate __attribute__((tls_model("initial-exec")));

void gate_enter_outer();

inline void gate_enter() {
  if (t_gate.depth++ == 0) gate_enter_outer();
}
inline void gate_exit() {
  if (--t_gate.depth == 0)
    g_gate_stripes[t_gate.stripe - 1].sections.fetch_sub(1, std::memory_order_release);
}

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
