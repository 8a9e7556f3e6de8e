// A bounded single-producer single-consumer ring of pointers, shared by the
// benchmarks that hand objects from an allocating thread to a freeing one.
#pragma once

#include <atomic>
#include <cstdint>

// Lamport ring with cached opposite indices: each side touches the other's
// cache line only when its cached view says the ring is full/empty, so in the
// steady state a transfer costs about one line migration per slot line.
class SpscRing {
 public:
  static constexpr std::uint64_t kCapacity = 1024;  // a power of two

  bool push(void* p) {
    const std::uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_cache_ == kCapacity) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t - head_cache_ == kCapacity) return false;
    }
    slots_[t & (kCapacity - 1)] = p;
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  void* pop() {
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h == tail_cache_) return nullptr;
    }
    void* p = slots_[h & (kCapacity - 1)];
    head_.store(h + 1, std::memory_order_release);
    return p;
  }

 private:
  // Producer's line, consumer's line, then the slots: no false sharing
  // between the two indices. The indices only grow, so the ring needs no
  // reset between runs; the benchmark's start/stop barriers and thread
  // creation order one run's producer/consumer before the next run's.
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t head_cache_ = 0;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t tail_cache_ = 0;
  alignas(64) void* slots_[kCapacity];
};
