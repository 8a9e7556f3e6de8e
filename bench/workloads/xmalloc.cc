// xmalloc: threads that only allocate and threads that only free (the shape
// of xmalloc-test): every object is freed by a thread other than the one that
// allocated it, the case thread-local caches find hardest.
//
// Four producers each allocate SCALE x 36 000 batches of kBatch objects (mostly
// small, some up to 8 KiB), stamp them and pass the batches through a bounded
// queue (a mutex and two condition variables) to four consumers, which check
// and free them. Which consumer gets which batch is up to the scheduler; the
// checksum is the sum over all objects, so it is not.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr int kProducers = 4, kConsumers = 4;
constexpr int kBatch = 64;
constexpr std::size_t kQueueBatches = 32;

struct Item {
  void* p;
  std::uint32_t size;
  std::uint64_t tag;
};

// A batch is itself malloc'd by the producer and freed by the consumer.
struct Batch {
  Item items[kBatch];
};

class Queue {
 public:
  void push(Batch* b) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return count_ < kQueueBatches; });
    ring_[(head_ + count_++) % kQueueBatches] = b;
    not_empty_.notify_one();
  }
  // nullptr once every producer is done and the queue is empty.
  Batch* pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return count_ > 0 || producers_done_ == kProducers; });
    if (count_ == 0) return nullptr;
    Batch* b = ring_[head_];
    head_ = (head_ + 1) % kQueueBatches;
    --count_;
    not_full_.notify_one();
    return b;
  }
  void producer_done() {
    std::lock_guard lock(mu_);
    if (++producers_done_ == kProducers) not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  Batch* ring_[kQueueBatches] = {};
  std::size_t head_ = 0, count_ = 0;  // guarded by: mu_
  int producers_done_ = 0;            // guarded by: mu_
};

std::uint32_t object_size(Rng& rng) {
  const std::uint64_t kind = rng.below(100);
  if (kind < 75) return static_cast<std::uint32_t>(rng.between(8, 128));
  if (kind < 95) return static_cast<std::uint32_t>(rng.between(129, 1024));
  return static_cast<std::uint32_t>(rng.between(1025, 8192));
}

}  // namespace

int main(int argc, char** argv) {
  const long batches = scaled(36'000, parse_scale(argc, argv));  // per producer
  Queue queue;
  std::atomic<std::uint64_t> sum{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kProducers; ++t)
    threads.emplace_back([&, t] {
      Rng rng(seed_of(4, static_cast<std::uint64_t>(t)));
      for (long n = 0; n < batches; ++n) {
        auto* b = static_cast<Batch*>(xmalloc(sizeof(Batch)));
        for (Item& it : b->items) {
          it.size = object_size(rng);
          it.tag = rng.next();
          it.p = xmalloc(it.size);
          stamp(it.p, it.size, it.tag);
        }
        queue.push(b);
      }
      queue.producer_done();
    });
  for (int t = 0; t < kConsumers; ++t)
    threads.emplace_back([&] {
      std::uint64_t local = 0;
      while (Batch* b = queue.pop()) {
        for (Item& it : b->items) {
          local += take_stamp(it.p, it.size, it.tag);
          std::free(it.p);
        }
        std::free(b);
      }
      sum.fetch_add(local, std::memory_order_relaxed);
    });
  for (auto& th : threads) th.join();
  return finish(sum.load());
}
