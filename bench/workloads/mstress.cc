// mstress: many threads, mixed sizes, retained sets and objects passed
// between threads at random (the shape of mimalloc's stress test).
//
// Six retained sets of kRetained slots live across rounds. Each round starts
// six threads; thread t works on set (t + round) % 6 and does kOpsPerRound
// random operations on a random slot: replace its object with a new one
// (malloc, or calloc one time in eight), realloc it to a new size, free it,
// or swap it with one of kTransfer global slots (an atomic exchange: the
// object goes to whichever thread takes that slot next). Sizes: mostly 16 to
// 256 bytes, some up to 4 KiB and 64 KiB, one in 256 up to 1 MiB.
//
// An object's size is a function of its tag, so whoever frees it can check
// it. Each thread's choices depend only on its own random stream, so the set
// of objects created is fixed and the checksum — the sum over every object
// retired by free or realloc — does not depend on who retired it.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr int kThreads = 6;
constexpr std::size_t kRetained = 500;
constexpr std::size_t kTransfer = 1000;
constexpr long kOpsPerRound = 20'000;

std::size_t size_of(std::uint64_t tag) {
  const std::uint64_t x = mix(tag);
  const std::uint64_t kind = x & 255, v = x >> 8;
  if (kind < 224) return 16 + v % 241;
  if (kind < 248) return 257 + v % 3840;
  if (kind < 255) return 4097 + v % 61440;
  return 65537 + v % (1 << 20);
}

void* create(std::uint64_t tag, bool zeroed) {
  const std::size_t n = size_of(tag);
  void* p = zeroed ? checked(std::calloc(1, n), n) : xmalloc(n);
  if (zeroed && (static_cast<unsigned char*>(p)[0] | static_cast<unsigned char*>(p)[n - 1]))
    fail("calloc(1, %zu) returned memory that is not zero", n);
  stamp(p, n, tag);
  return p;
}

std::uint64_t retire(void* p) {
  const std::uint64_t tag = read_tag(p);
  return take_stamp(p, size_of(tag), tag);
}

std::uint64_t work(std::vector<void*>& slots, std::atomic<void*>* transfer, Rng& rng) {
  std::uint64_t sum = 0;
  for (long k = 0; k < kOpsPerRound; ++k) {
    const std::uint64_t x = rng.next();
    void*& slot = slots[x % kRetained];
    const std::uint64_t action = (x >> 32) % 100;
    if (action < 45) {
      const std::uint64_t tag = rng.next();
      if (slot) {
        sum += retire(slot);
        std::free(slot);
      }
      slot = create(tag, (tag >> 61) == 0);
    } else if (action < 55) {
      const std::uint64_t tag = rng.next();
      if (!slot) {
        slot = create(tag, false);
        continue;
      }
      const std::uint64_t old = read_tag(slot);
      sum += retire(slot);
      const std::size_t n = size_of(tag);
      slot = checked(std::realloc(slot, n), n);
      if (read_tag(slot) != old) fail("realloc to %zu bytes lost the contents", n);
      stamp(slot, n, tag);
    } else if (action < 75) {
      if (slot) {
        sum += retire(slot);
        std::free(slot);
        slot = nullptr;
      }
    } else {
      slot = transfer[rng.below(kTransfer)].exchange(slot, std::memory_order_acq_rel);
    }
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = scaled(60, parse_scale(argc, argv));
  std::vector<std::vector<void*>> sets(kThreads, std::vector<void*>(kRetained, nullptr));
  auto transfer = std::make_unique<std::atomic<void*>[]>(kTransfer);
  for (std::size_t i = 0; i < kTransfer; ++i) transfer[i].store(nullptr);

  std::atomic<std::uint64_t> sum{0};
  for (long r = 0; r < rounds; ++r) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        Rng rng(seed_of(5 + static_cast<std::uint64_t>(r), static_cast<std::uint64_t>(t)));
        sum.fetch_add(work(sets[(t + r) % kThreads], transfer.get(), rng),
                      std::memory_order_relaxed);
      });
    for (auto& th : threads) th.join();
  }
  std::uint64_t total = sum.load();
  auto drop = [&](void* p) {
    if (!p) return;
    total += retire(p);
    std::free(p);
  };
  for (auto& set : sets)
    for (void* p : set) drop(p);
  for (std::size_t i = 0; i < kTransfer; ++i) drop(transfer[i].load());
  return finish(total);
}
