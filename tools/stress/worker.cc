#include "worker.h"

#include <cerrno>
#include <cstring>
#include <utility>

namespace stress {

namespace {
constexpr std::size_t kMaxBufsPerFile = 8;
}

Worker::Worker(int id, int home_cpu, Shared* shared, std::uint64_t seed)
    : id_(id),
      home_cpu_(home_cpu),
      sh_(shared),
      rng_(seed ^ (0x1000193ull * static_cast<std::uint64_t>(id + 1))),
      next_serial_((static_cast<std::uint64_t>(id) << 48) | 1) {}

void Worker::start() {
  sh_->gate.enter();
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::post(FileRec&& f) {
  std::lock_guard<std::mutex> g(inbox_mu_);
  inbox_.push_back(std::move(f));
  inbox_hint_.store(inbox_.size(), std::memory_order_relaxed);
}

void Worker::run() {
  if (home_cpu_ >= 0) {
    call("numaslab_bind_thread_to_cpu");
    const int rc = numaslab_bind_thread_to_cpu(home_cpu_);
    call(nullptr);
    if (rc != 0 && rc != -ENODEV)
      errors().report("w%d: numaslab_bind_thread_to_cpu(%d) returned %d", id_, home_cpu_, rc);
  }
  while (!sh_->stop_workers.load(std::memory_order_relaxed)) {
    if (sh_->gate.pause_requested()) sh_->gate.park();
    step();
    bump(progress_, std::uint64_t{1});
    if (sh_->opt->inject_stall && id_ == 0 && now_ms() > 1000) {
      call("(--inject-stall)");
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  // Shut down: close and unlink everything, then whatever was handed to us.
  for (FileRec& f : files_) release_file(f);
  files_.clear();
  std::vector<FileRec> in;
  {
    std::lock_guard<std::mutex> g(inbox_mu_);
    in.swap(inbox_);
    inbox_hint_.store(0, std::memory_order_relaxed);
  }
  for (FileRec& f : in) release_file(f);
  sh_->gate.leave();
  finished_.store(true, std::memory_order_release);
}

void Worker::release_inbox_leftovers() {
  std::vector<FileRec> in;
  {
    std::lock_guard<std::mutex> g(inbox_mu_);
    in.swap(inbox_);
    inbox_hint_.store(0, std::memory_order_relaxed);
  }
  for (FileRec& f : in) release_file(f);
}

void Worker::step() {
  if (inbox_hint_.load(std::memory_order_relaxed) != 0) drain_inbox();
  const std::uint64_t n_step = progress_.load(std::memory_order_relaxed);
  if ((n_step & 255) == 0) maybe_rebind();

  const Options& o = *sh_->opt;
  const bool large_phase = (now_ms() / o.ws_period_ms) % 2 == 0;
  const std::size_t target = static_cast<std::size_t>(large_phase ? o.ws_large : o.ws_small);
  const std::size_t n = files_.size();
  if (n == 0) {
    op_create();
    return;
  }
  const bool grow = n < target;
  // Weights (percent): create open read write close unlink handoff.
  static constexpr unsigned kGrow[7] = {30, 10, 25, 20, 8, 2, 5};
  static constexpr unsigned kShrink[7] = {3, 5, 15, 10, 10, 45, 12};
  const unsigned* w = grow ? kGrow : kShrink;
  unsigned r = rng_.below(100), op = 0;
  while (op < 6 && r >= w[op]) r -= w[op++];
  const std::size_t idx = rng_.below(static_cast<std::uint32_t>(n));
  switch (op) {
    case 0: op_create(); break;
    case 1: op_open(files_[idx]); break;
    case 2: op_read(files_[idx]); break;
    case 3: op_write(files_[idx]); break;
    case 4: op_close(files_[idx]); break;
    case 5: op_unlink(idx); break;
    default: op_handoff(idx); break;
  }
  bump(ctr_.fs_ops, std::uint64_t{1});
  if (files_.size() > ctr_.files_peak.load(std::memory_order_relaxed))
    ctr_.files_peak.store(files_.size(), std::memory_order_relaxed);
}

void Worker::maybe_rebind() {
  if (home_cpu_ < 0) return;
  // A downed CPU migrated us; go home once it is back, so that neighbouring
  // workers stay on different nodes.
  if (numaslab_current_cpu() == home_cpu_ || numaslab_cpu_online(home_cpu_) != 1) return;
  call("numaslab_bind_thread_to_cpu");
  const int rc = numaslab_bind_thread_to_cpu(home_cpu_);
  call(nullptr);
  if (rc == 0) bump(ctr_.rebinds, std::uint64_t{1});
  else if (rc != -ENODEV)
    errors().report("w%d: numaslab_bind_thread_to_cpu(%d) returned %d", id_, home_cpu_, rc);
}

void Worker::drain_inbox() {
  std::vector<FileRec> in;
  {
    std::lock_guard<std::mutex> g(inbox_mu_);
    in.swap(inbox_);
    inbox_hint_.store(0, std::memory_order_relaxed);
  }
  for (FileRec& f : in) adopt_or_release(std::move(f));
}

void Worker::adopt_or_release(FileRec&& f) {
  const Options& o = *sh_->opt;
  if (files_.size() < static_cast<std::size_t>(o.ws_large) && rng_.percent(50)) {
    files_.push_back(std::move(f));
  } else {
    release_file(f);
  }
}

std::size_t Worker::pick_buffer_size() {
  const std::uint32_t r = rng_.below(1000);
  if (r < 2) return 64 * 1024;  // occasionally 64 KiB: the large-block path
  if (r < 6) return 8192;
  if (r < 400) return rng_.range(16, 128);
  if (r < 750) return rng_.range(129, 1024);
  return rng_.range(1025, 8192);
}

bool Worker::alloc_typed(Kind k, Handle* h) {
  const bool by_node = rng_.percent(static_cast<unsigned>(sh_->opt->node_alloc_pct));
  const int node = by_node ? static_cast<int>(rng_.below(static_cast<std::uint32_t>(sh_->num_nodes))) : -1;
  numaslab_cache* c = cache_of(k);
  void* p;
  if (by_node) {
    call("numaslab_cache_alloc_node");
    p = numaslab_cache_alloc_node(c, node);
  } else {
    call("numaslab_cache_alloc");
    p = numaslab_cache_alloc(c);
  }
  call(nullptr);
  if (!p) {
    errors().report("w%d: numaslab_cache_alloc%s(%s%s) returned NULL: %s", id_, by_node ? "_node" : "",
                    kTyped[k].name, by_node ? ", node" : "", std::strerror(errno));
    return false;
  }
  bump(ctr_.allocs, std::uint64_t{1});
  h->p = p;
  h->serial = next_serial_++;
  h->size = static_cast<std::uint32_t>(kTyped[k].size);
  h->kind = k;
  h->node = by_node ? static_cast<std::uint8_t>(node) : 0xff;
  h->owner = static_cast<std::uint16_t>(id_);
  if (!stamp_on_alloc(*h, id_, false)) {
    h->p = nullptr;  // leave it alone: it is someone else's, or damaged
    return false;
  }
  if (by_node) {
    bump(ctr_.node_allocs, std::uint64_t{1});
    const int got = numaslab_node_of(p);
    if (got < 0) errors().report("%s %p: numaslab_node_of returned %d for a live object", kTyped[k].name, p, got);
    else if (got != node) bump(ctr_.node_mismatch, std::uint64_t{1});
  }
  return true;
}

bool Worker::alloc_buffer(std::size_t size, Handle* h) {
  const bool by_node = rng_.percent(static_cast<unsigned>(sh_->opt->node_alloc_pct));
  const bool zeroed = !by_node && rng_.percent(5);
  const int node = by_node ? static_cast<int>(rng_.below(static_cast<std::uint32_t>(sh_->num_nodes))) : -1;
  void* p;
  if (by_node) {
    call("numaslab_kmalloc_node");
    p = numaslab_kmalloc_node(size, node);
  } else if (zeroed) {
    call("numaslab_kzalloc");
    p = numaslab_kzalloc(size);
  } else {
    call("numaslab_kmalloc");
    p = numaslab_kmalloc(size);
  }
  call(nullptr);
  if (!p) {
    errors().report("w%d: numaslab_k%salloc%s(%zu) returned NULL: %s", id_, zeroed ? "z" : "m",
                    by_node ? "_node" : "", size, std::strerror(errno));
    return false;
  }
  bump(ctr_.allocs, std::uint64_t{1});
  if (size > 8192) bump(ctr_.large_allocs, std::uint64_t{1});
  h->p = p;
  h->serial = next_serial_++;
  h->size = static_cast<std::uint32_t>(size);
  h->kind = kKmalloc;
  h->node = by_node ? static_cast<std::uint8_t>(node) : 0xff;
  h->owner = static_cast<std::uint16_t>(id_);
  if (!stamp_on_alloc(*h, id_, zeroed)) {
    h->p = nullptr;
    return false;
  }
  if (by_node) {
    bump(ctr_.node_allocs, std::uint64_t{1});
    const int got = numaslab_node_of(p);
    if (got < 0) errors().report("kmalloc(%zu) %p: numaslab_node_of returned %d for a live buffer", size, p, got);
    else if (got != node) bump(ctr_.node_mismatch, std::uint64_t{1});
  }
  return true;
}

void Worker::free_handle(Handle& h) {
  if (!h.p) return;
  void* const p = h.p;
  if (sh_->opt->inject_corruption && id_ == 0 && !injected_ && h.kind == kInode && now_ms() > 1000) {
    injected_ = true;
    static_cast<unsigned char*>(p)[kTyped[kInode].size - 3] ^= 0x40;  // a stray write into the tail
  }
  const bool ok = check_on_free(h, id_);
  h.p = nullptr;
  if (!ok) return;  // leaked on purpose: freeing it could crash numaslab
  const int home = numaslab_node_of(p);
  if (home < 0) {
    errors().report("%s %p: numaslab_node_of returned %d for a live object", kind_name(h.kind), p, home);
    return;
  }
  if (home != numaslab_current_node()) bump(ctr_.remote_node_frees, std::uint64_t{1});
  if (h.owner != id_) bump(ctr_.cross_thread_frees, std::uint64_t{1});
  if (h.kind < kNumTyped) {
    call("numaslab_cache_free");
    numaslab_cache_free(cache_of(h.kind), p);
  } else {
    call("numaslab_kfree");
    numaslab_kfree(p);
  }
  call(nullptr);
  bump(ctr_.frees, std::uint64_t{1});
}

void Worker::release_file(FileRec& f) {
  for (Handle& b : f.bufs) free_handle(b);
  f.bufs.clear();
  free_handle(f.file);
  free_handle(f.dentry);
  free_handle(f.inode);
}

void Worker::op_create() {
  FileRec f;
  if (!alloc_typed(kInode, &f.inode)) return;
  if (!alloc_typed(kDentry, &f.dentry)) {
    free_handle(f.inode);
    return;
  }
  if (rng_.percent(30)) alloc_typed(kFile, &f.file);  // create-and-open
  files_.push_back(std::move(f));
}

void Worker::op_open(FileRec& f) {
  if (!f.file.p) alloc_typed(kFile, &f.file);
}

void Worker::op_read(FileRec& f) {
  op_open(f);
  // A transient data buffer: filled, checked and freed on the spot (the
  // per-CPU array's hot path) ...
  Handle data;
  if (alloc_buffer(pick_buffer_size(), &data)) free_handle(data);
  // ... and sometimes a buffer_head that stays with the file (page cache).
  if (rng_.percent(50)) {
    if (f.bufs.size() >= kMaxBufsPerFile) {
      const std::size_t i = rng_.below(static_cast<std::uint32_t>(f.bufs.size()));
      free_handle(f.bufs[i]);
      f.bufs[i] = f.bufs.back();
      f.bufs.pop_back();
    }
    Handle bh;
    if (alloc_typed(kBufferHead, &bh)) f.bufs.push_back(bh);
  }
}

void Worker::op_write(FileRec& f) {
  op_open(f);
  // Dirty data stays with the file until close: a buffer_head and its data.
  while (f.bufs.size() + 2 > kMaxBufsPerFile) {
    const std::size_t i = rng_.below(static_cast<std::uint32_t>(f.bufs.size()));
    free_handle(f.bufs[i]);
    f.bufs[i] = f.bufs.back();
    f.bufs.pop_back();
  }
  Handle bh, data;
  if (alloc_typed(kBufferHead, &bh)) f.bufs.push_back(bh);
  if (alloc_buffer(pick_buffer_size(), &data)) f.bufs.push_back(data);
}

void Worker::op_close(FileRec& f) {
  for (Handle& b : f.bufs) free_handle(b);
  f.bufs.clear();
  free_handle(f.file);
}

void Worker::op_unlink(std::size_t idx) {
  release_file(files_[idx]);
  files_[idx] = std::move(files_.back());
  files_.pop_back();
}

void Worker::op_handoff(std::size_t idx) {
  const int n = static_cast<int>(sh_->workers.size());
  if (n < 2) {
    op_unlink(idx);
    return;
  }
  int to = (id_ + 1) % n;  // the neighbour: another node in sim mode
  if (rng_.percent(30)) {
    to = static_cast<int>(rng_.below(static_cast<std::uint32_t>(n - 1)));
    if (to >= id_) ++to;
  }
  FileRec f = std::move(files_[idx]);
  files_[idx] = std::move(files_.back());
  files_.pop_back();
  sh_->workers[static_cast<std::size_t>(to)]->post(std::move(f));
  bump(ctr_.handoffs, std::uint64_t{1});
}

}  // namespace stress
