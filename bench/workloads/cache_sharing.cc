// cache-scratch and cache-thrash: false sharing of allocator-returned objects
// (Berger et al., Hoard, "passive-false" and "active-false"). Built twice:
// WL_PASSIVE=1 gives cache-scratch, WL_PASSIVE=0 cache-thrash.
//
// Four threads each, SCALE x kIterations times, allocate an 8-byte object, write each
// of its bytes kWrites times and free it. Writing costs nanoseconds while the
// object's cache line is the thread's own, and hundreds when another CPU
// writes a different object in the same line: the time measures whether the
// allocator gives threads running at once objects in one line.
//   cache-thrash (active): the threads allocate their own objects from the
//     start; an allocator that serves them from one shared heap interleaves them.
//   cache-scratch (passive): the main thread first allocates the four threads'
//     first objects, next to each other, and each thread begins by freeing
//     its one; an allocator that hands a freed object back to the thread that
//     freed it keeps the threads writing into main's line.
#include <thread>
#include <vector>

#include "workload.h"

#ifndef WL_PASSIVE
#error "build with -DWL_PASSIVE=1 (cache-scratch) or -DWL_PASSIVE=0 (cache-thrash)"
#endif

namespace {

using namespace workload;

constexpr int kThreads = 4;
constexpr std::size_t kObjSize = 8;
constexpr int kWrites = 1000;
constexpr long kIterations = 150'000;

// Writes every byte of p kWrites times; returns the bytes' sum.
std::uint64_t hammer(char* p) {
  volatile char* v = p;
  for (std::size_t k = 0; k < kObjSize; ++k) v[k] = static_cast<char>(k);
  for (int w = 0; w < kWrites; ++w)
    for (std::size_t k = 0; k < kObjSize; ++k) v[k] = static_cast<char>(v[k] + 1);
  std::uint64_t sum = 0;
  for (std::size_t k = 0; k < kObjSize; ++k) sum += static_cast<unsigned char>(v[k]);
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = scaled(kIterations, parse_scale(argc, argv));
  char* first[kThreads] = {};
  if (WL_PASSIVE)
    for (char*& p : first) p = static_cast<char*>(xmalloc(kObjSize));

  std::uint64_t part[kThreads] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::free(first[t]);
      std::uint64_t h = 0;
      for (long i = 0; i < iterations; ++i) {
        char* p = static_cast<char*>(xmalloc(kObjSize));
        h = fold(h, hammer(p));
        std::free(p);
      }
      part[t] = h;
    });
  for (auto& th : threads) th.join();
  std::uint64_t sum = 0;
  for (std::uint64_t h : part) sum = fold(sum, h);
  return finish(sum);
}
