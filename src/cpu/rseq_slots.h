// numaslab — RseqSlots: per-CPU array operations as restartable sequences
// (x86-64, on the rseq area glibc registers: __rseq_offset/__rseq_size).
//
// Contract:
//  * Each operation is one critical section (CS) that reads cpu_id *inside*
//    the CS, indexes the cache's slots with it, checks the CPU number and the
//    slot's `stopped` flag, works on the real bounds (base/cap, which are
//    nullptr for a CPU without an array), and commits with a single store of
//    the slot's `top`. These are the slow paths' and NUMASLAB_CHECK=full's
//    operations; the fast paths are api/fast_path_x86_64.S. Preemption, migration, a signal or a
//    membarrier fence before the commit aborts the CS; the C++ caller retries.
//  * Results: kRseqOk; kRseqFallback — the slot cannot be used now (bad
//    cpu_id, stopped, no array, empty/full, wrong node): take the slow path;
//    kRseqAbort — retry. Results travel through memory (no asm-goto outputs:
//    GCC 12 miscompiles them, reference/rseq.md §3.7).
//  * push/push_batch refuse (fallback) unless the slot's node equals `node`:
//    a CPU's array holds only objects of its own node, whichever CPU the
//    thread has migrated to meanwhile.
//  * Only documented ABI: rseq_cs is the only field written; cpu_id is read.
//    No syscalls, calls or stack changes inside a CS.
// No locks. Callers hold no lock across a CS (nothing here blocks).
#pragma once

#include <cstdint>

#include "cpu/cpu_slots.h"

namespace numaslab::detail {

enum RseqResult : int { kRseqOk = 0, kRseqFallback = 1, kRseqAbort = 2 };

// True once slots_select() chose RseqSlots.
bool rseq_enabled();
// The calling thread's CPU from its rseq area (sched_getcpu if unregistered).
int rseq_current_cpu();
// Aborts seen by the callers' retry loops (statistics).
std::uint64_t rseq_aborts();
void rseq_count_abort();

#if defined(__x86_64__)

struct RseqArea {
  std::uint32_t cpu_id_start;
  std::uint32_t cpu_id;
  std::uint64_t rseq_cs;
  std::uint32_t flags;
};

extern "C" const long __rseq_offset;  // glibc ≥ 2.35 (sys/rseq.h)

inline RseqArea* rseq_area() {
  return reinterpret_cast<RseqArea*>(static_cast<char*>(__builtin_thread_pointer()) +
                                     __rseq_offset);
}

// The descriptor, arming store and abort handler shared by every CS. %= makes
// the labels unique per asm statement. The prologue leaves the slot in %rax
// and falls back when the CPU number is out of range or the slot is stopped.
#define NS_RSEQ_PROLOGUE                                             \
  ".pushsection __rseq_cs, \"aw\"\n\t"                               \
  ".balign 32\n\t"                                                   \
  ".Lns_cs%=:\n\t"                                                   \
  ".long 0, 0\n\t"                                                   \
  ".quad .Lns_start%=, .Lns_post%= - .Lns_start%=, .Lns_abort%=\n\t" \
  ".popsection\n\t"                                                  \
  "leaq .Lns_cs%=(%%rip), %%rax\n\t"                                 \
  "movq %%rax, 8(%[rs])\n\t"                                         \
  ".Lns_start%=:\n\t"                                                \
  "movl 4(%[rs]), %%eax\n\t"                                         \
  "cmpl %k[n], %%eax\n\t"                                            \
  "jae %l[fallback]\n\t"                                             \
  "shlq $7, %%rax\n\t"                                               \
  "addq %[base], %%rax\n\t"                                          \
  "testb $1, 26(%%rax)\n\t"                                          \
  "jne %l[fallback]\n\t"

#define NS_RSEQ_EPILOGUE                    \
  ".Lns_post%=:\n\t"                        \
  ".pushsection __rseq_failure, \"ax\"\n\t" \
  ".byte 0x0f, 0xb9, 0x3d\n\t"              \
  ".long 0x53053053\n\t"                    \
  ".Lns_abort%=:\n\t"                       \
  "jmp %l[aborted]\n\t"                     \
  ".popsection\n\t"

// Pops the hottest object of the current CPU's array into *out (counts an
// allocation hit).
inline int rseq_pop(CpuSlot* base, std::uint32_t nslots, void** out) {
  RseqArea* rs = rseq_area();
  asm goto(NS_RSEQ_PROLOGUE
           "movq (%%rax), %%rdx\n\t"   // top
           "cmpq 8(%%rax), %%rdx\n\t"  // base
           "jbe %l[fallback]\n\t"
           "movq -8(%%rdx), %%rcx\n\t"
           "movq %%rcx, (%[out])\n\t"
           "addq $1, 32(%%rax)\n\t"  // alloc_hits
           "subq $8, (%%rax)\n\t"    // commit: top - 1
           NS_RSEQ_EPILOGUE
           :
           : [rs] "r"(rs), [n] "r"(nslots), [base] "r"(base), [out] "r"(out)
           : "rax", "rcx", "rdx", "memory", "cc"
           : fallback, aborted);
  return kRseqOk;
fallback:
  return kRseqFallback;
aborted:
  return kRseqAbort;
}

// Pushes obj (of node `node`) on the current CPU's array.
inline int rseq_push(CpuSlot* base, std::uint32_t nslots, void* obj, std::uint32_t node) {
  RseqArea* rs = rseq_area();
  asm goto(NS_RSEQ_PROLOGUE
           "cmpw %w[node], 24(%%rax)\n\t"  // slot's node must be the object's
           "jne %l[fallback]\n\t"
           "movq (%%rax), %%rdx\n\t"    // top
           "cmpq 16(%%rax), %%rdx\n\t"  // cap
           "jae %l[fallback]\n\t"
           "movq %[obj], (%%rdx)\n\t"
           "addq $8, (%%rax)\n\t"  // commit: top + 1
           NS_RSEQ_EPILOGUE
           :
           : [rs] "r"(rs), [n] "r"(nslots), [base] "r"(base), [obj] "r"(obj), [node] "r"(node)
           : "rax", "rdx", "memory", "cc"
           : fallback, aborted);
  return kRseqOk;
fallback:
  return kRseqFallback;
aborted:
  return kRseqAbort;
}

// Pushes in[0..k) (all of node `node`) on the current CPU's array, all or none.
inline int rseq_push_batch(CpuSlot* base, std::uint32_t nslots, void* const* in, std::uint64_t k,
                           std::uint32_t node) {
  RseqArea* rs = rseq_area();
  asm goto(
      NS_RSEQ_PROLOGUE
      "cmpw %w[node], 24(%%rax)\n\t"
      "jne %l[fallback]\n\t"
      "movq (%%rax), %%rdx\n\t"         // top
      "leaq (%%rdx,%[k],8), %%rsi\n\t"  // top + k
      "cmpq 16(%%rax), %%rsi\n\t"       // cap
      "ja %l[fallback]\n\t"
      "xorl %%ecx, %%ecx\n\t"
      ".Lns_loop%=:\n\t"
      "cmpq %[k], %%rcx\n\t"
      "jae .Lns_copied%=\n\t"
      "movq (%[in],%%rcx,8), %%rdi\n\t"
      "movq %%rdi, (%%rdx,%%rcx,8)\n\t"
      "addq $1, %%rcx\n\t"
      "jmp .Lns_loop%=\n\t"
      ".Lns_copied%=:\n\t"
      "movq %%rsi, (%%rax)\n\t"  // commit: top + k
      NS_RSEQ_EPILOGUE
      :
      : [rs] "r"(rs), [n] "r"(nslots), [base] "r"(base), [in] "r"(in), [k] "r"(k), [node] "r"(node)
      : "rax", "rcx", "rdx", "rsi", "rdi", "memory", "cc"
      : fallback, aborted);
  return kRseqOk;
fallback:
  return kRseqFallback;
aborted:
  return kRseqAbort;
}

// What rseq_pop_batch reports besides the objects (one pointer operand, so the
// statement fits the registers left when a frame pointer is kept).
struct RseqBatchResult {
  std::uint32_t got;   // objects popped
  std::uint32_t node;  // node of the array they came from
};

// Pops up to k of the hottest objects of the current CPU's array into out[].
inline int rseq_pop_batch(CpuSlot* base, std::uint32_t nslots, void** out, std::uint64_t k,
                          RseqBatchResult* res) {
  RseqArea* rs = rseq_area();
  asm goto(
      NS_RSEQ_PROLOGUE
      "cmpq $0, 8(%%rax)\n\t"  // no array
      "je %l[fallback]\n\t"
      "movzwl 24(%%rax), %%esi\n\t"
      "movl %%esi, 4(%[res])\n\t"  // res->node
      "movq (%%rax), %%rdx\n\t"    // top
      "movq %%rdx, %%rcx\n\t"
      "subq 8(%%rax), %%rcx\n\t"
      "shrq $3, %%rcx\n\t"  // avail
      "movq %[k], %%rsi\n\t"
      "cmpq %%rsi, %%rcx\n\t"
      "cmovbq %%rcx, %%rsi\n\t"   // m = min(k, avail)
      "movl %%esi, (%[res])\n\t"  // res->got
      "leaq (,%%rsi,8), %%rcx\n\t"
      "subq %%rcx, %%rdx\n\t"  // new top = first popped entry
      "xorl %%ecx, %%ecx\n\t"
      ".Lns_loop%=:\n\t"
      "cmpq %%rsi, %%rcx\n\t"
      "jae .Lns_copied%=\n\t"
      "movq (%%rdx,%%rcx,8), %%rdi\n\t"
      "movq %%rdi, (%[out],%%rcx,8)\n\t"
      "addq $1, %%rcx\n\t"
      "jmp .Lns_loop%=\n\t"
      ".Lns_copied%=:\n\t"
      "movq %%rdx, (%%rax)\n\t"  // commit: top - m
      NS_RSEQ_EPILOGUE
      :
      : [rs] "r"(rs), [n] "r"(nslots), [base] "r"(base), [out] "r"(out), [k] "r"(k), [res] "r"(res)
      : "rax", "rcx", "rdx", "rsi", "rdi", "memory", "cc"
      : fallback, aborted);
  return kRseqOk;
fallback:
  return kRseqFallback;
aborted:
  return kRseqAbort;
}

#undef NS_RSEQ_PROLOGUE
#undef NS_RSEQ_EPILOGUE

#else  // !__x86_64__: never selected; the stubs keep callers portable.

inline int rseq_pop(CpuSlot*, std::uint32_t, void**) { return kRseqFallback; }
inline int rseq_push(CpuSlot*, std::uint32_t, void*, std::uint32_t) { return kRseqFallback; }
inline int rseq_push_batch(CpuSlot*, std::uint32_t, void* const*, std::uint64_t, std::uint32_t) {
  return kRseqFallback;
}
struct RseqBatchResult {
  std::uint32_t got;
  std::uint32_t node;
};
inline int rseq_pop_batch(CpuSlot*, std::uint32_t, void**, std::uint64_t, RseqBatchResult*) {
  return kRseqFallback;
}

#endif

}  // namespace numaslab::detail
