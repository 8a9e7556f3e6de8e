#include "slab/node_lists.h"

#include "base/check.h"
#include "page/page_map.h"

namespace numaslab::detail {

void NodeLists::init(int node_id, const char* cache_name) NS_NO_THREAD_SAFETY_ANALYSIS {
  list_lock.set_name(LockName{"list_lock", cache_name, node_id});
  partial = SlabQueue{};
  full = SlabQueue{};
  free = SlabQueue{};
  free_objects = 0;
  free_limit = 0;
  colour_next = 0;
  free_touched = false;
  surplus = 0;
  node = node_id;
  shared.store(nullptr, std::memory_order_relaxed);
  alien.store(nullptr, std::memory_order_relaxed);
  next_reap = 0;
  stats = NodeStats{};
}

namespace {

SurplusRoom g_surplus_rooms[kMaxNodes];

std::uint64_t slab_bytes(const SlabGeometry& g) { return std::uint64_t{kPageSize} << g.order; }

// `gone` free slabs left the free list: surplus first, its room given back.
void drop_surplus(NodeLists& nl, const SlabGeometry& g, std::uint32_t gone)
    NS_REQUIRES(nl.list_lock) {
  const std::uint32_t d = gone < nl.surplus ? gone : nl.surplus;
  if (d == 0) return;
  nl.surplus -= d;
  surplus_room(nl.node).give(std::uint64_t{d} * slab_bytes(g));
}

}  // namespace

SurplusRoom& surplus_room(int node) { return g_surplus_rooms[node]; }

namespace {

SlabQueue& queue_for(NodeLists& nl, SlabList id) NS_NO_THREAD_SAFETY_ANALYSIS {
  switch (id) {
    case SlabList::kPartial:
      return nl.partial;
    case SlabList::kFull:
      return nl.full;
    default:
      return nl.free;
  }
}

void unlink(NodeLists& nl, Slab* s) {
  NS_CHECK(s->list_id != SlabList::kNone, "slab %p of node %d is on no list", s, nl.node);
  queue_for(nl, s->list_id).remove(s);
  s->list_id = SlabList::kNone;
}

void link(NodeLists& nl, Slab* s, SlabList id, bool front) {
  SlabQueue& q = queue_for(nl, id);
  if (front)
    q.push_front(s);
  else
    q.push_back(s);
  s->list_id = id;
}

}  // namespace

std::uint32_t NodeLists::take_batch(const SlabGeometry& g, void** out, std::uint32_t n) {
  std::uint32_t got = 0, free_taken = 0;
  while (got < n) {
    Slab* s = partial.head;
    if (!s) {
      free_touched = true;
      s = free.head;
      if (!s) break;
      ++free_taken;
    }
    unlink(*this, s);
    while (s->inuse < g.num && got < n) {
      std::uint32_t idx = s->free;
      NS_CHECK(idx < g.num, "slab %p: corrupt free list (index %u, %u objects)", s, idx, g.num);
      s->free = s->load_bufctl(idx);
      s->store_bufctl(idx, kBufctlCached);
      ++s->inuse;
      out[got++] = s->s_mem + static_cast<std::size_t>(idx) * g.buffer_size;
    }
    link(*this, s, s->inuse == g.num ? SlabList::kFull : SlabList::kPartial, true);
  }
  free_objects -= got;
  drop_surplus(*this, g, free_taken);
  stats.list_allocs += got;
  stats.active += got;
  if (stats.active > stats.high_mark) stats.high_mark = stats.active;
  NS_EXPENSIVE(lists_consistent(g));
  return got;
}

void NodeLists::free_block(const SlabGeometry& g, void* const* objs, std::uint32_t n,
                           SlabQueue* dead) {
  for (std::uint32_t i = 0; i < n; ++i) {
    void* obj = objs[i];
    Slab* s = slab_of_object(obj, "free_block");
    NS_CHECK(s->nodeid == node, "free_block: object %p of node %d returned to node %d", obj,
             s->nodeid, node);
    std::int64_t idx = slab_object_index(g, s, obj);
    // The checks NUMASLAB_CHECK=fast defers to this point (cache/cache.h).
    NS_CHECK(idx >= 0,
             "cache '%s': %p was freed but is an interior pointer, not the start of an object "
             "(found when it went back to its slab)",
             list_lock.name().owner, obj);
    std::uint32_t state = s->load_bufctl(static_cast<std::uint32_t>(idx));
    NS_CHECK(state == kBufctlCached || state == kBufctlUser,
             "cache '%s': double free of %p (found already free in its slab on node %d)",
             list_lock.name().owner, obj, node);
    unlink(*this, s);
    s->store_bufctl(static_cast<std::uint32_t>(idx), s->free);
    s->free = static_cast<std::uint32_t>(idx);
    --s->inuse;
    ++free_objects;
    --stats.active;
    if (s->inuse == 0) {
      if (free_objects <= free_limit) {
        link(*this, s, SlabList::kFree, true);
      } else if (surplus_room(node).take(slab_bytes(g))) {
        ++surplus;
        link(*this, s, SlabList::kFree, true);
      } else {
        free_objects -= g.num;
        ++stats.destroyed;
        dead->push_back(s);
      }
    } else {
      // Tail of partial: give the slab's other objects time to come back too.
      link(*this, s, SlabList::kPartial, false);
    }
  }
  NS_EXPENSIVE(lists_consistent(g));
}

bool NodeLists::lists_consistent(const SlabGeometry& g) const {
  std::uint64_t free_sum = 0;
  const SlabQueue* lists[] = {&partial, &full, &free};
  const SlabList ids[] = {SlabList::kPartial, SlabList::kFull, SlabList::kFree};
  for (int l = 0; l < 3; ++l) {
    std::size_t n = 0;
    for (const Slab* s = lists[l]->head; s; s = s->next, ++n) {
      const SlabList want = s->inuse == 0       ? SlabList::kFree
                            : s->inuse == g.num ? SlabList::kFull
                                                : SlabList::kPartial;
      if (s->list_id != ids[l] || want != ids[l] || s->nodeid != node) return false;
      free_sum += g.num - s->inuse;
    }
    if (n != lists[l]->count) return false;
  }
  return free_sum == free_objects && surplus <= free.count;
}

void NodeLists::add_new_slab(const SlabGeometry& g, Slab* s) {
  link(*this, s, SlabList::kFree, false);
  free_objects += g.num;
  ++stats.grown;
}

std::uint32_t NodeLists::unlink_free_slabs(const SlabGeometry& g, std::uint32_t max,
                                           SlabQueue* dead) {
  std::uint32_t n = 0;
  while (n < max && free.tail) {
    Slab* s = free.tail;
    unlink(*this, s);
    free_objects -= g.num;
    ++stats.destroyed;
    dead->push_back(s);
    ++n;
  }
  drop_surplus(*this, g, n);
  return n;
}

std::uint32_t NodeLists::unlink_surplus(const SlabGeometry& g, std::uint32_t max, SlabQueue* dead) {
  return unlink_free_slabs(g, surplus < max ? surplus : max, dead);
}

std::uint32_t NodeLists::push_shared(void* const* objs, std::uint32_t n) {
  ArrayCache* sh = shared.load(std::memory_order_relaxed);
  if (!sh) return 0;
  std::uint32_t k = sh->room() < n ? sh->room() : n;
  sh->push_many(objs, k);
  return k;
}

namespace {
constexpr std::uint32_t kSpreadBytes = 2 * kCacheLine;
}  // namespace

Slab* slab_format(const SlabGeometry& g, void* pages, std::uint32_t colour_index, int node,
                  void* offslab_desc) {
  char* base = static_cast<char*>(pages);
  std::uint32_t offset = colour_index * g.colour_off;
  Slab* s;
  if (g.off_slab) {
    s = static_cast<Slab*>(offslab_desc);
  } else {
    s = reinterpret_cast<Slab*>(base + offset);
    offset += g.slab_size;
  }
  s->next = s->prev = nullptr;
  s->s_mem = base + offset;
  s->colouroff = offset;
  s->inuse = 0;
  s->free = 0;
  s->nodeid = static_cast<std::uint16_t>(node);
  s->list_id = SlabList::kNone;
  s->pad_ = 0;
  s->pad2_ = 0;
  // The free list visits the objects kSpreadBytes apart (stride k objects,
  // then the next residue), so objects handed out one after another never
  // share a cache line or its prefetch pair: threads that take turns on a CPU
  // and then run at once on two get objects in different lines.
  std::uint32_t* b = s->bufctl();
  const std::uint32_t k =
      g.buffer_size >= kSpreadBytes ? 1 : (kSpreadBytes + g.buffer_size - 1) / g.buffer_size;
  std::uint32_t prev = 0;
  for (std::uint32_t r = 0; r < k && r < g.num; ++r) {
    for (std::uint32_t i = r; i < g.num; i += k) {
      if (i != 0) b[prev] = i;
      prev = i;
    }
  }
  b[prev] = kBufctlEnd;
  return s;
}

}  // namespace numaslab::detail
