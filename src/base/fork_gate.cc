#include "base/fork_gate.h"

#include <atomic>
#include <cstdint>

#include "base/clock.h"

namespace numaslab::detail {

namespace {

constexpr int kGateStripes = 64;

struct alignas(64) GateStripe {
  std::atomic<std::uint32_t> sections{0};
};

GateStripe g_gate_stripes[kGateStripes];
std::atomic<bool> g_gate_closed{false};

struct GateThread {
  std::uint32_t depth;
  std::uint32_t stripe;  // 1 + index; 0 until the first section
};
constinit thread_local GateThread t_gate __attribute__((tls_model("initial-exec"))) = {0, 0};
std::atomic<std::uint32_t> g_next_stripe{0};

void gate_enter_outer() {
  if (t_gate.stripe == 0)
    t_gate.stripe = 1 + g_next_stripe.fetch_add(1, std::memory_order_relaxed) % kGateStripes;
  std::atomic<std::uint32_t>& n = g_gate_stripes[t_gate.stripe - 1].sections;
  for (;;) {
    // Dekker with gate_close(): announce, then look (both sequentially
    // consistent), so either the closer sees this section or it sees the gate shut.
    n.fetch_add(1, std::memory_order_seq_cst);
    if (!g_gate_closed.load(std::memory_order_seq_cst)) return;
    n.fetch_sub(1, std::memory_order_seq_cst);
    while (g_gate_closed.load(std::memory_order_acquire)) yield_cpu();
  }
}

}  // namespace

void gate_enter() {
  if (t_gate.depth++ == 0) gate_enter_outer();
}

void gate_exit() {
  if (--t_gate.depth == 0)
    g_gate_stripes[t_gate.stripe - 1].sections.fetch_sub(1, std::memory_order_release);
}

bool gate_close() {
  if (t_gate.depth != 0) return false;
  g_gate_closed.store(true, std::memory_order_seq_cst);
  for (GateStripe& s : g_gate_stripes)
    while (s.sections.load(std::memory_order_seq_cst) != 0) yield_cpu();
  return true;
}

void gate_open() { g_gate_closed.store(false, std::memory_order_release); }

void gate_reset_in_child() {
  for (GateStripe& s : g_gate_stripes) s.sections.store(0, std::memory_order_relaxed);
  g_gate_closed.store(false, std::memory_order_release);
}

bool gate_in_section() { return t_gate.depth != 0; }

}  // namespace numaslab::detail
