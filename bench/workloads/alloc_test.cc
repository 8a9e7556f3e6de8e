// alloc-test: allocation-intensive loops over a working set, one size range
// at a time (the shape of the alloc-test of OLogN/ithare, alloc-testN with
// two threads).
//
// Two independent threads each keep kSlots slots. For each size range —
// 8..64, 65..512, 513..4096 bytes, then all of 8..4096 with small sizes
// favoured — a thread does SCALE x kOpsPerRange iterations of: pick a random
// slot, free its block, allocate one of a size drawn from the range. Between
// ranges everything is freed, so each range starts from an empty working set.
#include <thread>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr int kThreads = 2;
constexpr std::size_t kSlots = 8192;
constexpr long kOpsPerRange = 1'500'000;

struct Range {
  std::size_t lo, hi;
  bool log;  // log-uniform instead of uniform
};
constexpr Range kRanges[] = {{8, 64, false}, {65, 512, false}, {513, 4096, false}, {8, 4096, true}};

std::uint64_t run_thread(int t, long ops) {
  Rng rng(seed_of(7, static_cast<std::uint64_t>(t)));
  std::vector<Block> slots(kSlots);
  std::uint64_t h = 0;
  for (const Range& range : kRanges) {
    for (long k = 0; k < ops; ++k) {
      Block& b = slots[rng.below(kSlots)];
      h = fold(h, free_block(b));
      const std::size_t size =
          range.log ? rng.log_between(range.lo, range.hi) : rng.between(range.lo, range.hi);
      b = new_block(size, rng.next());
    }
    for (Block& b : slots) h = fold(h, free_block(b));
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  const long ops = scaled(kOpsPerRange, parse_scale(argc, argv));
  std::uint64_t part[kThreads] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { part[t] = run_thread(t, ops); });
  for (auto& th : threads) th.join();
  std::uint64_t sum = 0;
  for (std::uint64_t h : part) sum = fold(sum, h);
  return finish(sum);
}
