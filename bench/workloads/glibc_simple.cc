// glibc-simple: the shape of glibc's bench-malloc-simple — allocate N blocks
// of one size, free them all, again and again — for N in 25, 100, 400, 1600
// and sizes 16 B to 4 KiB, in three settings: the main thread before any
// other thread exists (glibc takes single-thread shortcuts there), a second
// thread, and the main thread again once the process is multi-threaded.
// Each (N, size) pair allocates SCALE x kAllocsPerCase blocks per setting.
#include <thread>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr std::size_t kCounts[] = {25, 100, 400, 1600};
constexpr std::size_t kSizes[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
constexpr long kAllocsPerCase = 40'000;

std::uint64_t run_setting(std::uint64_t setting, long allocs) {
  std::vector<Block> blocks(kCounts[std::size(kCounts) - 1]);
  Rng rng(seed_of(8, setting));
  std::uint64_t h = 0;
  for (std::size_t count : kCounts)
    for (std::size_t size : kSizes) {
      const long repeats = std::max(1L, allocs / static_cast<long>(count));
      for (long r = 0; r < repeats; ++r) {
        const std::uint64_t tag = rng.next();
        for (std::size_t i = 0; i < count; ++i) blocks[i] = new_block(size, tag + i);
        for (std::size_t i = 0; i < count; ++i) h += free_block(blocks[i]);
      }
    }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  const long allocs = scaled(kAllocsPerCase, parse_scale(argc, argv));
  std::uint64_t sum = run_setting(0, allocs);
  std::uint64_t in_thread = 0;
  std::thread([&] { in_thread = run_setting(1, allocs); }).join();
  sum = fold(sum, in_thread);
  sum = fold(sum, run_setting(2, allocs));
  return finish(sum);
}
