// rptest: random sizes and lifetimes with a share of cross-thread frees (the
// shape of rpmalloc's benchmark).
//
// Four threads each keep a window of kWindow blocks and, SCALE x kSteps
// times, replace the oldest block with a new one of a random size (four in
// five log-uniform in 32..1024 bytes, the rest in 1 KiB..16 KiB). One retired
// block in five is not freed by its thread but pushed onto another thread's
// inbox (an intrusive list under a mutex); every 128 steps a thread frees
// whatever has arrived in its inbox, and a thread that has done its steps
// keeps draining its inbox until every thread has (otherwise the blocks sent
// to a thread that finished early pile up, and peak memory measures how
// unevenly the threads were scheduled rather than the allocator). The
// checksum is the sum over all blocks, whoever frees them.
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr int kThreads = 4;
constexpr std::size_t kWindow = 2048;
constexpr long kSteps = 1'600'000;
constexpr long kDrainEvery = 128;

// A block: tag at 0, its size at 8, the inbox link at 16, ~tag in the last 8.
struct Header {
  std::uint64_t tag;
  std::uint64_t size;
  Header* next;
};

struct alignas(64) Inbox {
  std::mutex mu;
  Header* head = nullptr;  // guarded by: mu
};

Header* make_block(Rng& rng) {
  const std::size_t n = rng.below(5) < 4 ? rng.log_between(32, 1024) : rng.log_between(1025, 16384);
  auto* h = static_cast<Header*>(xmalloc(n));
  const std::uint64_t tag = rng.next();
  stamp(h, n, tag);
  h->size = n;
  h->next = nullptr;
  return h;
}

std::uint64_t free_block(Header* h) {
  const std::uint64_t v = take_stamp(h, h->size, h->tag);
  std::free(h);
  return v;
}

std::uint64_t drain(Inbox& box) {
  Header* list;
  {
    std::lock_guard lock(box.mu);
    list = box.head;
    box.head = nullptr;
  }
  std::uint64_t sum = 0;
  while (list) {
    Header* next = list->next;
    sum += free_block(list);
    list = next;
  }
  return sum;
}

std::uint64_t run_thread(int t, long steps, Inbox* inboxes, std::atomic<int>* done) {
  Rng rng(seed_of(6, static_cast<std::uint64_t>(t)));
  std::vector<Header*> window(kWindow, nullptr);
  std::uint64_t sum = 0;
  for (long s = 0; s < steps; ++s) {
    Header*& slot = window[static_cast<std::size_t>(s) % kWindow];
    if (slot) {
      const std::uint64_t r = rng.next();
      if (r % 5 == 0) {
        Inbox& to = inboxes[(t + 1 + static_cast<int>((r >> 32) % (kThreads - 1))) % kThreads];
        std::lock_guard lock(to.mu);
        slot->next = to.head;
        to.head = slot;
      } else {
        sum += free_block(slot);
      }
    }
    slot = make_block(rng);
    if (s % kDrainEvery == kDrainEvery - 1) sum += drain(inboxes[t]);
  }
  done->fetch_add(1, std::memory_order_acq_rel);
  while (done->load(std::memory_order_acquire) < kThreads) {
    sum += drain(inboxes[t]);
    std::this_thread::yield();
  }
  sum += drain(inboxes[t]);
  for (Header* h : window)
    if (h) sum += free_block(h);
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const long steps = scaled(kSteps, parse_scale(argc, argv));
  Inbox inboxes[kThreads];
  std::atomic<std::uint64_t> sum{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back(
        [&, t] { sum.fetch_add(run_thread(t, steps, inboxes, &done), std::memory_order_relaxed); });
  for (auto& th : threads) th.join();
  std::uint64_t total = sum.load();
  for (Inbox& box : inboxes) total += drain(box);
  return finish(total);
}
