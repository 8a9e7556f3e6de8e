// numaslab-stress — the dbench-like workers.
//
// Each worker keeps a working set of "files" (inode + dentry, an open file
// object, buffer_heads and kmalloc'd data buffers attached to it) and runs
// create/open/read/write/close/unlink on it. The working-set target swings
// between small and large. Files are handed to another worker through a
// lock-protected inbox (the neighbour, which sits on another node in sim
// mode), so objects are routinely freed by a thread other than the one that
// allocated them, and on another node.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "objects.h"
#include "stress.h"

namespace stress {

struct FileRec {
  Handle inode, dentry;
  Handle file;                // p == nullptr while closed
  std::vector<Handle> bufs;   // buffer_heads and data buffers
};

// Counters written by one worker (relaxed), read by the monitor.
struct alignas(64) WorkerCounters {
  std::atomic<std::uint64_t> allocs{0};
  std::atomic<std::uint64_t> frees{0};
  std::atomic<std::uint64_t> fs_ops{0};
  std::atomic<std::uint64_t> cross_thread_frees{0};  // freed by a worker that did not allocate
  std::atomic<std::uint64_t> remote_node_frees{0};   // object's node != freeing CPU's node
  std::atomic<std::uint64_t> node_allocs{0};         // *_alloc_node / kmalloc_node calls
  std::atomic<std::uint64_t> node_mismatch{0};       // ... that came back from another node
  std::atomic<std::uint64_t> handoffs{0};
  std::atomic<std::uint64_t> large_allocs{0};        // > 8 KiB kmalloc
  std::atomic<std::uint64_t> rebinds{0};
  std::atomic<std::uint64_t> files_peak{0};
};

struct Shared;  // defined by worker.cc users (main.cc): everything workers share

class Worker {
 public:
  Worker(int id, int home_cpu, Shared* shared, std::uint64_t seed);
  void start();
  void join();
  // After join(): frees whatever is still in the inbox (main thread).
  void release_inbox_leftovers();

  int id() const { return id_; }
  int home_cpu() const { return home_cpu_; }
  const WorkerCounters& counters() const { return ctr_; }
  // numaslab call in progress (nullptr if none), for stall reports.
  const char* in_call() const { return in_call_.load(std::memory_order_relaxed); }
  std::uint64_t progress() const { return progress_.load(std::memory_order_relaxed); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  // Another worker hands over a file.
  void post(FileRec&& f);

 private:
  void run();
  void step();
  void drain_inbox();
  void adopt_or_release(FileRec&& f);

  // Operations.
  void op_create();
  void op_open(FileRec& f);
  void op_read(FileRec& f);
  void op_write(FileRec& f);
  void op_close(FileRec& f);
  void op_unlink(std::size_t idx);
  void op_handoff(std::size_t idx);

  bool alloc_typed(Kind k, Handle* h);
  bool alloc_buffer(std::size_t size, Handle* h);
  void free_handle(Handle& h);
  void release_file(FileRec& f);
  std::size_t pick_buffer_size();
  void maybe_rebind();

  template <typename T>
  static void bump(std::atomic<T>& a, T by = 1) {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  void call(const char* what) { in_call_.store(what, std::memory_order_relaxed); }

  const int id_;
  const int home_cpu_;  // sim mode: virtual CPU bound at start; -1 otherwise
  Shared* const sh_;
  Rng rng_;
  std::uint64_t next_serial_;
  bool injected_ = false;
  std::vector<FileRec> files_;
  WorkerCounters ctr_;
  std::atomic<const char*> in_call_{nullptr};
  std::atomic<std::uint64_t> progress_{0};
  std::atomic<bool> finished_{false};
  std::thread thread_;

  alignas(64) std::mutex inbox_mu_;
  std::vector<FileRec> inbox_;  // guarded by inbox_mu_
  std::atomic<std::size_t> inbox_hint_{0};
};

struct Shared {
  const Options* opt = nullptr;
  PauseGate gate;
  std::atomic<bool> stop_workers{false};
  int num_nodes = 1;
  bool sim = false;
  std::vector<Worker*> workers;  // fixed before start
};

}  // namespace stress
