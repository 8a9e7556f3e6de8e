#include "support/workload.h"

#include "support/stamp.h"
#include "support/threads.h"

namespace numaslab::test_support {

Workload::Workload(WorkloadSpec spec)
    : spec_(std::move(spec)), boxes_(static_cast<std::size_t>(spec_.boxes)) {}

void Workload::fail(const std::string& why) {
  if (failures.fetch_add(1) == 0) {
    std::lock_guard<std::mutex> g(fail_mu_);
    first_failure_ = why;
  }
}

std::string Workload::first_failure() const {
  std::lock_guard<std::mutex> g(fail_mu_);
  return first_failure_;
}

bool Workload::allocate(int w, unsigned op, std::mt19937_64& rng, Obj* o) {
  const int ncaches = static_cast<int>(spec_.caches.size());
  o->kind = static_cast<int>(rng() % static_cast<unsigned>(ncaches + 1));
  if (o->kind < ncaches) {
    numaslab_cache* c = spec_.caches[static_cast<std::size_t>(o->kind)];
    o->size = spec_.sizes[static_cast<std::size_t>(o->kind)];
    o->p = static_cast<int>(op) == spec_.alloc_node_op
               ? numaslab_cache_alloc_node(c, static_cast<int>(rng() % 2))
               : numaslab_cache_alloc(c);
  } else {
    o->size = static_cast<std::uint32_t>(24 + rng() % spec_.kmalloc_spread);
    o->p = numaslab_kmalloc(o->size);
  }
  if (!o->p) {
    oom.fetch_add(1);
    return false;
  }
  if (spec_.each_alloc) spec_.each_alloc(o->p);
  o->owner = static_cast<std::uint32_t>(w);
  o->serial = serial_.fetch_add(1, std::memory_order_relaxed);
  std::string why;
  if (!stamp(o->p, o->owner, o->size, o->serial, &why)) fail(why);
  allocs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Workload::free_obj(const Obj& o, int by) {
  std::string why;
  if (!unstamp(o.p, o.owner, o.size, o.serial, &why))
    fail(why + " (freed by " + std::to_string(by) + ")");
  if (o.kind < static_cast<int>(spec_.caches.size()))
    numaslab_cache_free(spec_.caches[static_cast<std::size_t>(o.kind)], o.p);
  else
    numaslab_kfree(o.p);
  frees.fetch_add(1, std::memory_order_relaxed);
}

void Workload::run_worker(int w, const std::atomic<bool>& stop) {
  std::mt19937_64 rng(spec_.seed(w));
  AffinityChurn aff(spec_.churn_cpus);
  const auto nboxes = static_cast<unsigned>(boxes_.size());
  Box& own = boxes_[static_cast<unsigned>(w) % nboxes];
  std::vector<Obj> mine;
  mine.reserve(spec_.max_held);
  while (!stop.load(std::memory_order_relaxed)) {
    if (spec_.churn.count()) aff.maybe(spec_.churn);
    if (spec_.each_step) spec_.each_step();
    const auto op = static_cast<unsigned>(rng() % spec_.ops);
    if ((op < spec_.alloc_below && mine.size() < spec_.max_held) || mine.empty()) {
      Obj o;
      if (allocate(w, op, rng, &o)) mine.push_back(o);
    } else if (op < spec_.free_below) {
      const std::size_t k = rng() % mine.size();
      const Obj o = mine[k];
      mine[k] = mine.back();
      mine.pop_back();
      if (op == spec_.free_below - 1) {
        Box& box = nboxes > 1 ? boxes_[rng() % nboxes] : own;
        std::lock_guard<std::mutex> g(box.mu);
        box.objs.push_back(o);
        handoffs.fetch_add(1, std::memory_order_relaxed);
      } else {
        free_obj(o, w);
      }
    } else if (op < spec_.take_below) {
      std::vector<Obj> got;
      {
        std::lock_guard<std::mutex> g(own.mu);
        got.swap(own.objs);
      }
      for (const Obj& o : got) free_obj(o, w);
    } else if (spec_.extra_op) {
      spec_.extra_op(rng);
    }
  }
  for (const Obj& o : mine) free_obj(o, w);
}

void Workload::drain() {
  for (Box& b : boxes_) {
    std::lock_guard<std::mutex> g(b.mu);
    for (const Obj& o : b.objs) free_obj(o, -1);
    b.objs.clear();
  }
}

}  // namespace numaslab::test_support
