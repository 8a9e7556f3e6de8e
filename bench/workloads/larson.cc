// larson: a server whose threads hand their objects to the next generation of
// threads (Larson and Krishnan's "bleeding" between server threads).
//
// Four arrays of kSlots objects of 8..1000 bytes, filled by the main thread.
// Each round starts four threads; thread t of round r works on array
// (t + r) % 4: kOpsPerRound times it frees a random slot (an object another
// thread allocated, in an earlier round or by main) and puts a new object of a
// random size there. Threads end with the round, so every round's frees are
// of objects allocated by threads that are gone. Objects come from new[] and
// go back through delete[], as a C++ server's would.
#include <array>
#include <thread>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr int kThreads = 4;
constexpr std::size_t kSlots = 3000;
constexpr long kOpsPerRound = 50'000;
constexpr std::size_t kMinSize = 8, kMaxSize = 1000;

struct Obj {
  char* p = nullptr;
  std::size_t size = 0;
  std::uint64_t tag = 0;
};

Obj make(Rng& rng) {
  Obj o;
  o.size = rng.between(kMinSize, kMaxSize);
  o.tag = rng.next();
  o.p = new char[o.size];
  stamp(o.p, o.size, o.tag);
  return o;
}

std::uint64_t release(Obj& o) {
  const std::uint64_t v = take_stamp(o.p, o.size, o.tag);
  delete[] o.p;
  o.p = nullptr;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = scaled(80, parse_scale(argc, argv));
  std::array<std::vector<Obj>, kThreads> arrays;
  Rng main_rng(seed_of(1, 0));
  for (auto& arr : arrays) {
    arr.resize(kSlots);
    for (Obj& o : arr) o = make(main_rng);
  }

  std::uint64_t sum = 0;
  for (long r = 0; r < rounds; ++r) {
    std::array<std::uint64_t, kThreads> part{};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        std::vector<Obj>& arr = arrays[(t + r) % kThreads];
        Rng rng(seed_of(2 + static_cast<std::uint64_t>(r), static_cast<std::uint64_t>(t)));
        std::uint64_t h = 0;
        for (long k = 0; k < kOpsPerRound; ++k) {
          Obj& o = arr[rng.below(kSlots)];
          h = fold(h, release(o));
          o = make(rng);
        }
        part[t] = h;
      });
    for (auto& th : threads) th.join();
    for (std::uint64_t h : part) sum = fold(sum, h);
  }
  for (auto& arr : arrays)
    for (Obj& o : arr) sum = fold(sum, release(o));
  return finish(sum);
}
