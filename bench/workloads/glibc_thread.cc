// glibc-thread: the shape of glibc's bench-malloc-thread — each thread keeps
// a working set of kSlots blocks and replaces a random one with a block of a
// random size, where sizes from 8 B to 32 KiB are drawn with probability
// proportional to 1/size² (most are small, the mean is about 70 bytes). One
// thread first, then four at once; each thread does SCALE x kOpsPerThread
// replacements and frees its set at the end.
#include <thread>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr std::size_t kSlots = 1024;
constexpr long kOpsPerThread = 6'000'000;
constexpr double kMinSize = 8, kMaxSize = 32768;

// Inverse transform of the CDF of p(s) ~ 1/s² on [kMinSize, kMaxSize].
std::size_t inverse_square_size(Rng& rng) {
  const double s = 1.0 / (1.0 / kMinSize - rng.unit() * (1.0 / kMinSize - 1.0 / kMaxSize));
  return std::clamp(static_cast<std::size_t>(s), std::size_t{8}, std::size_t{32768});
}

std::uint64_t run_thread(std::uint64_t id, long ops) {
  Rng rng(seed_of(9, id));
  std::vector<Block> slots(kSlots);
  std::uint64_t h = 0;
  for (long k = 0; k < ops; ++k) {
    Block& b = slots[rng.below(kSlots)];
    h = fold(h, free_block(b));
    const std::size_t size = inverse_square_size(rng);
    b = new_block(size, rng.next());
  }
  for (Block& b : slots) h = fold(h, free_block(b));
  return h;
}

std::uint64_t run_phase(int threads, std::uint64_t first_id, long ops) {
  std::vector<std::uint64_t> part(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { part[t] = run_thread(first_id + t, ops); });
  for (auto& th : pool) th.join();
  std::uint64_t h = 0;
  for (std::uint64_t v : part) h = fold(h, v);
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  const long ops = scaled(kOpsPerThread, parse_scale(argc, argv));
  std::uint64_t sum = run_phase(1, 0, ops);
  sum = fold(sum, run_phase(4, 1, ops));
  return finish(sum);
}
