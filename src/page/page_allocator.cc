// numaslab — per-node buddy page allocator.
//
// Each node owns a list of 4 MiB segments and free lists per order
// 0..kMaxRunOrder. A free block is described by its head page's PageDesc
// (kind kFree, order = block order, linked through next/prev); its other
// pages are kFreeTail. The header pages [0, kSegmentHeaderPages) are never
// part of a block, so a segment carves into maximal naturally aligned blocks
// and coalescing reassembles exactly that carving.
//
// mmap/munmap and registry updates happen outside the node lock: a freshly
// mapped segment is private until it is published on the node's lists, and a
// trimmed segment is unlinked first, then unmapped.
#include "page/page_allocator.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <utility>

#include "base/check.h"
#include "base/clock.h"
#include "base/lock.h"
#include "base/sanitizer.h"
#include "base/thread_annotations.h"
#include "platform/os_memory.h"

namespace numaslab::detail {

namespace {

constexpr std::uint32_t kHeaderPages = static_cast<std::uint32_t>(kSegmentHeaderPages);
constexpr std::uint32_t kDataPages = static_cast<std::uint32_t>(kPagesPerSegment) - kHeaderPages;
// Far beyond any sane request, and small enough that the rounding below cannot
// overflow (os_map_aligned refuses more than 2^46 anyway).
constexpr std::size_t kMaxHugeBytes = std::size_t{1} << 46;

static_assert(kHeaderPages < kPagesPerSegment, "segment header must leave data pages");

struct alignas(kCacheLine) NodeState {
  constexpr explicit NodeState(int node)
      : lock(LockRank::kPages, LockName{"page_lock", nullptr, node}) {}

  SpinLock lock;
  // Resident blocks at the front, released ones at the back (free_tails),
  // so an allocation takes memory that is already faulted in first.
  PageDesc* free_lists[kMaxRunOrder + 1] NS_GUARDED_BY(lock) = {};
  PageDesc* free_tails[kMaxRunOrder + 1] NS_GUARDED_BY(lock) = {};
  SegmentHeader* segments NS_GUARDED_BY(lock) = nullptr;  // linked via next_in_node
  std::size_t segment_count NS_GUARDED_BY(lock) = 0;
  std::size_t used_pages NS_GUARDED_BY(lock) = 0;
  std::size_t free_pages NS_GUARDED_BY(lock) = 0;
  std::size_t huge_mappings NS_GUARDED_BY(lock) = 0;
  std::size_t huge_bytes NS_GUARDED_BY(lock) = 0;
  // Pages of free blocks whose memory may be resident (stamp != 0).
  std::size_t resident_free_pages NS_GUARDED_BY(lock) = 0;
};

// Resident free pages a node keeps at least (page_allocator.h: the keep).
std::atomic<std::size_t> g_keep_free_pages{(std::size_t{8} << 20) >> kPageShift};

// A table of per-node state, constant-initialised (no static-init order
// issues, no allocation), each lock named with its node.
template <typename Seq>
struct NodeTable;
template <std::size_t... I>
struct NodeTable<std::index_sequence<I...>> {
  NodeState nodes[sizeof...(I)]{NodeState(static_cast<int>(I))...};
};

constinit NodeTable<std::make_index_sequence<kMaxNodes>> g_table;

// Until page_allocator_init says otherwise every node index is usable and
// nothing is bound, so an early caller still gets memory.
std::atomic<int> g_num_nodes{kMaxNodes};
std::atomic<bool> g_bind{false};

bool valid_node(int node) {
  return node >= 0 && node < kMaxNodes && node < g_num_nodes.load(std::memory_order_relaxed);
}

// A free block's stamp for "freed now": the coarse clock in ms, +1 so that it
// is never 0 (0 means "released").
std::uint64_t free_stamp_now() { return coarse_clock_ms() + 1; }

// ---- free lists (node lock held) -------------------------------------------

void list_push(NodeState& n, PageDesc* d, unsigned order, std::uint64_t stamp = 0)
    NS_REQUIRES(n.lock) {
  d->kind = PageKind::kFree;
  d->size = stamp;
  d->order = static_cast<std::uint8_t>(order);
  if (stamp != 0) {
    n.resident_free_pages += std::size_t{1} << order;
    d->prev = nullptr;
    d->next = n.free_lists[order];
    if (d->next)
      d->next->prev = d;
    else
      n.free_tails[order] = d;
    n.free_lists[order] = d;
  } else {
    d->next = nullptr;
    d->prev = n.free_tails[order];
    if (d->prev)
      d->prev->next = d;
    else
      n.free_lists[order] = d;
    n.free_tails[order] = d;
  }
}

void list_remove(NodeState& n, PageDesc* d, unsigned order) NS_REQUIRES(n.lock) {
  if (d->size != 0) n.resident_free_pages -= std::size_t{1} << order;
  if (d->prev)
    d->prev->next = d->next;
  else
    n.free_lists[order] = d->next;
  if (d->next)
    d->next->prev = d->prev;
  else
    n.free_tails[order] = d->prev;
  d->next = d->prev = nullptr;
}

// Marks pages [first, first + count) of `seg` with `kind` and `order`.
void mark_pages(SegmentHeader* seg, std::uint32_t first, std::uint32_t count, PageKind kind,
                unsigned order) {
  for (std::uint32_t i = first; i < first + count; ++i) {
    seg->pages[i].kind = kind;
    seg->pages[i].order = static_cast<std::uint8_t>(order);
  }
}

// ---- segments ----------------------------------------------------------------

// Writes the header of a fresh mapping: every descriptor gets node and index;
// header pages are kHeader, the rest stay kUnused until the caller labels them.
void init_header(SegmentHeader* seg, int node, std::size_t mapped_bytes, bool huge) {
  seg->magic = kSegmentMagic;
  seg->node = static_cast<std::uint32_t>(node);
  seg->header_pages = kHeaderPages;
  seg->mapped_bytes = mapped_bytes;
  seg->huge = huge;
  seg->next_in_node = nullptr;
  seg->used_pages.store(0, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < kPagesPerSegment; ++i) {
    PageDesc& d = seg->pages[i];
    d.kind = i < kHeaderPages ? PageKind::kHeader : PageKind::kUnused;
    d.order = 0;
    d.node = static_cast<std::uint16_t>(node);
    d.index = i;
    d.next = d.prev = nullptr;
    d.size = 0;
  }
}

// Maps, binds, initialises and registers a segment; nullptr on failure.
SegmentHeader* map_segment(int node) {
  void* mem = os_map_aligned(kSegmentSize, kSegmentSize);
  if (mem == nullptr) return nullptr;
  // Bind before the header is written so the header pages are placed too.
  if (g_bind.load(std::memory_order_relaxed)) (void)os_bind_to_node(mem, kSegmentSize, node);
  auto* seg = static_cast<SegmentHeader*>(mem);
  init_header(seg, node, kSegmentSize, /*huge=*/false);
  segment_register(seg);
  return seg;
}

// Publishes a fresh segment: carves [kHeaderPages, kPagesPerSegment) into
// maximal naturally aligned blocks of order <= kMaxRunOrder.
void add_segment(NodeState& n, SegmentHeader* seg) NS_REQUIRES(n.lock) {
  std::uint32_t i = kHeaderPages;
  while (i < kPagesPerSegment) {
    unsigned order = kMaxRunOrder;
    while ((i & ((1u << order) - 1)) != 0 || i + (1u << order) > kPagesPerSegment) --order;
    mark_pages(seg, i + 1, (1u << order) - 1, PageKind::kFreeTail, 0);
    list_push(n, &seg->pages[i], order);
    i += 1u << order;
  }
  seg->next_in_node = n.segments;
  n.segments = seg;
  ++n.segment_count;
  n.free_pages += kDataPages;
}

// Takes the smallest free block of order >= `order`, splits it down and marks
// the result allocated. nullptr if the node has no block large enough. The
// block is addressable to a memory checker again: a large block freed earlier
// left its pages poisoned, and every way out of the free lists comes here.
// want_zero: the smallest released block that fits comes first (its pages
// read as zero and fault in only as they are touched); otherwise the smallest
// resident one. *zeroed (if given): the block was released or never touched.
PageDesc* take_block(NodeState& n, unsigned order, bool want_zero = false, bool* zeroed = nullptr,
                     bool resident_only = false) NS_REQUIRES(n.lock) {
  unsigned o = order;
  PageDesc* head = nullptr;
  if (want_zero) {
    // Released blocks are at the back of each list.
    while (o <= kMaxRunOrder && (n.free_tails[o] == nullptr || n.free_tails[o]->size != 0)) ++o;
    if (o <= kMaxRunOrder) head = n.free_tails[o];
  }
  if (head == nullptr) {
    // The smallest resident block that fits; failing that, the smallest one
    // (released: its pages fault in as they are touched).
    o = order;
    while (o <= kMaxRunOrder && (n.free_lists[o] == nullptr || n.free_lists[o]->size == 0)) ++o;
    if (o > kMaxRunOrder) {
      if (resident_only) return nullptr;
      o = order;
      while (o <= kMaxRunOrder && n.free_lists[o] == nullptr) ++o;
      if (o > kMaxRunOrder) return nullptr;
    }
    head = n.free_lists[o];
  }
  list_remove(n, head, o);
  SegmentHeader* seg = segment_of(head);
  const std::uint64_t stamp = head->size;
  if (zeroed != nullptr) *zeroed = stamp == 0;
  while (o > order) {
    --o;
    // The upper half becomes a free block of its own; its tails already are
    // kFreeTail from the larger block. It keeps the block's release state.
    list_push(n, &seg->pages[head->index + (1u << o)], o, stamp);
  }
  head->kind = PageKind::kAllocated;
  head->order = static_cast<std::uint8_t>(order);
  mark_pages(seg, head->index + 1, (1u << order) - 1, PageKind::kTail, order);
  std::uint32_t count = 1u << order;
  seg->used_pages.fetch_add(count, std::memory_order_relaxed);
  n.used_pages += count;
  n.free_pages -= count;
  if (tools_active()) tool_pages_reused(page_address(head), kPageSize << order);
  return head;
}

// Puts the free block [index, index + 2^order) of `seg` on the free lists,
// merging it with free buddies. `stamp` is its release state (see header);
// a merged block is resident if any part is, since the latest time.
void insert_free(NodeState& n, SegmentHeader* seg, std::uint32_t index, unsigned order,
                 std::uint64_t stamp) NS_REQUIRES(n.lock) {
  unsigned o = order;
  while (o < kMaxRunOrder) {
    std::uint32_t buddy = index ^ (1u << o);
    // An aligned block starting at or after the header end never overlaps it.
    if (buddy < kHeaderPages) break;
    PageDesc* b = &seg->pages[buddy];
    if (page_kind(b) != PageKind::kFree || b->order != o) break;
    list_remove(n, b, o);
    if (b->size > stamp) stamp = b->size;
    // The merged block's upper head becomes a tail.
    PageDesc* upper = &seg->pages[index | (1u << o)];
    upper->kind = PageKind::kFreeTail;
    upper->order = 0;
    index &= ~(1u << o);
    ++o;
  }
  list_push(n, &seg->pages[index], o, stamp);
}

// Why `d` cannot be the head of an allocated run of `order`, or nullptr.
const char* free_pages_problem(const PageDesc* d, unsigned order) {
  switch (d->kind) {
    case PageKind::kFree:
    case PageKind::kFreeTail:
      return "the page is free (double free?)";
    case PageKind::kTail:
      return "it points inside a run";
    case PageKind::kHeader:
      return "it is a segment header page";
    case PageKind::kUnused:
      return "the page was never set up";
    case PageKind::kHuge:
      return "it is a huge allocation (use free_huge)";
    case PageKind::kAllocated:
    case PageKind::kSlab:
    case PageKind::kLargeHead:
      break;
  }
  if (d->order != order) return "the run has a different order";
  // kSlab labels every page of a slab with the slab's order: only the head is
  // aligned to its run size, so this catches interior slab pointers.
  if ((d->index & ((1u << order) - 1)) != 0) return "it points inside a run";
  if (d->index < kHeaderPages) return "the descriptor is corrupted";
  return nullptr;
}

}  // namespace

void page_allocator_reset() {
  for (int node = 0; node < kMaxNodes; ++node) {
    NodeState& n = g_table.nodes[node];
    SegmentHeader* segs;
    {
      LockGuard<SpinLock> guard(n.lock);
      segs = n.segments;
      n.segments = nullptr;
      for (auto& l : n.free_lists) l = nullptr;
      for (auto& l : n.free_tails) l = nullptr;
      n.segment_count = n.used_pages = n.free_pages = 0;
      n.huge_mappings = n.huge_bytes = 0;
    }
    while (segs) {
      SegmentHeader* next = segs->next_in_node;
      segment_unregister(segs);
      if (tools_active()) tool_pages_reused(segs, segs->mapped_bytes);  // as trim_node
      os_unmap(segs, segs->mapped_bytes);
      segs = next;
    }
  }
}

void page_allocator_init(int num_nodes, bool bind) {
  NS_CHECK(num_nodes >= 1 && num_nodes <= kMaxNodes,
           "page_allocator_init: %d nodes (supported: 1..%d)", num_nodes, kMaxNodes);
  g_num_nodes.store(num_nodes, std::memory_order_relaxed);
  g_bind.store(bind, std::memory_order_relaxed);
}

void* alloc_pages(int node, unsigned order, bool* zeroed) {
  if (order > kMaxRunOrder || !valid_node(node)) {
    errno = ENOMEM;
    return nullptr;
  }
  NodeState& n = g_table.nodes[node];
  const bool want_zero = zeroed != nullptr && order >= kZeroedRunOrder;
  {
    LockGuard<SpinLock> guard(n.lock);
    if (PageDesc* d = take_block(n, order, want_zero, zeroed)) return page_address(d);
  }
  // Out of blocks: map outside the lock. A racing thread may map one too; the
  // spare is simply kept (it is what trim_node is for).
  SegmentHeader* seg = map_segment(node);
  if (seg == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  LockGuard<SpinLock> guard(n.lock);
  add_segment(n, seg);
  PageDesc* d = take_block(n, order, want_zero, zeroed);
  NS_CHECK(d != nullptr, "alloc_pages: node %d has no order-%u block after adding a segment", node,
           order);
  return page_address(d);
}

void* alloc_resident_pages(int node, unsigned order) {
  if (order > kMaxRunOrder || !valid_node(node)) return nullptr;
  NodeState& n = g_table.nodes[node];
  LockGuard<SpinLock> guard(n.lock);
  PageDesc* d = take_block(n, order, false, nullptr, /*resident_only=*/true);
  return d ? page_address(d) : nullptr;
}

void free_pages(void* p, unsigned order) {
  auto addr = reinterpret_cast<std::uintptr_t>(p);
  const char* why = nullptr;
  PageDesc* d = nullptr;
  if ((addr & (kPageSize - 1)) != 0)
    why = "it is not page aligned";
  else if (order > kMaxRunOrder)
    why = "the order is out of range";
  else if ((d = page_lookup(p)) == nullptr)
    why = "it is not a numaslab page";
  else if (segment_of(d)->huge)
    why = "it is in a huge allocation (use free_huge)";
  NS_CHECK(why == nullptr, "free_pages: %p is not the head of an allocated run of order %u: %s", p,
           order, why);

  SegmentHeader* seg = segment_of(d);
  // The node copy in a segment's descriptors is written once, before the
  // segment is registered: stable without the lock.
  int node = d->node;
  NS_CHECK(node < kMaxNodes, "free_pages: %p has corrupted node %d", p, node);
  NodeState& n = g_table.nodes[node];
  std::size_t excess = 0;
  {
    LockGuard<SpinLock> guard(n.lock);
    // Validate under the lock: a double free races with the block's reuse.
    why = free_pages_problem(d, order);
    NS_CHECK(why == nullptr, "free_pages: %p is not the head of an allocated run of order %u: %s",
             p, order, why);

    std::uint32_t count = 1u << order;
    seg->used_pages.fetch_sub(count, std::memory_order_relaxed);
    n.used_pages -= count;
    n.free_pages += count;

    mark_pages(seg, d->index + 1, count - 1, PageKind::kFreeTail, 0);
    insert_free(n, seg, d->index, order, free_stamp_now());
    // A node keeps the larger of the set amount and a share of what it has
    // in use: a large heap that breathes keeps its pages resident (a fault
    // costs more than anything else here), a small one stays small.
    std::size_t keep = g_keep_free_pages.load(std::memory_order_relaxed);
    if (keep < n.used_pages >> kKeepInUseShift) keep = n.used_pages >> kKeepInUseShift;
    if (n.resident_free_pages > keep) excess = n.resident_free_pages - keep / 2;
  }
  // Above what a node keeps resident: back to the OS now, down to half of it
  // (hysteresis, so a free at the limit does not madvise every time) — the
  // blocks that have been free a while first, since a block freed just now
  // is the likeliest to be asked for again, then fresh ones. Letting fresh
  // blocks pile up to twice the keep instead made a program that frees and
  // allocates large blocks in bursts peak a fifth to a quarter higher.
  if (excess != 0) {
    const std::size_t done = release_idle(node, kFreshFreeMs, excess) >> kPageShift;
    if (done < excess) (void)release_idle(node, 0, excess - done);
  }
}

void* alloc_huge(std::size_t bytes, int node, std::size_t align) {
  if (!valid_node(node) || bytes > kMaxHugeBytes || align > kMaxHugeAlign) {
    errno = ENOMEM;
    return nullptr;
  }
  // The mapping is segment-aligned: the block starts at the first page index
  // past the header that is a multiple of the alignment (the pages skipped
  // stay kUnused and are never touched).
  const std::size_t align_pages = align > kPageSize ? align >> kPageShift : 1;
  const auto first =
      static_cast<std::uint32_t>((kHeaderPages + align_pages - 1) & ~(align_pages - 1));
  std::size_t data = (bytes == 0 ? kPageSize : (bytes + kPageSize - 1) & ~(kPageSize - 1));
  std::size_t len = std::size_t{first} * kPageSize + data;
  void* mem = os_map_aligned(len, kSegmentSize);
  if (mem == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  if (g_bind.load(std::memory_order_relaxed)) (void)os_bind_to_node(mem, len, node);
  auto* seg = static_cast<SegmentHeader*>(mem);
  init_header(seg, node, len, /*huge=*/true);
  // Only the descriptors inside the mapping's first 4 MiB exist: the first
  // data page is kHuge, the rest (up to the mapping's end) kTail, so an
  // interior pointer there is recognised as such.
  std::size_t mapped_pages = len >> kPageShift;
  std::uint32_t desc_end =
      static_cast<std::uint32_t>(mapped_pages < kPagesPerSegment ? mapped_pages : kPagesPerSegment);
  PageDesc& head = seg->pages[first];
  head.kind = PageKind::kHuge;
  head.size = bytes;
  mark_pages(seg, first + 1, desc_end - first - 1, PageKind::kTail, 0);
  segment_register(seg);

  NodeState& n = g_table.nodes[node];
  {
    LockGuard<SpinLock> guard(n.lock);
    ++n.huge_mappings;
    n.huge_bytes += len;
  }
  return page_address(&head);
}

void free_huge(void* p) {
  PageDesc* d = page_lookup(p);
  NS_CHECK(
      d != nullptr && d->kind == PageKind::kHuge && page_address(d) == p && segment_of(d)->huge,
      "free_huge: %p is not a huge allocation", p);
  SegmentHeader* seg = segment_of(d);
  std::size_t len = seg->mapped_bytes;
  int node = static_cast<int>(seg->node);
  NS_CHECK(node >= 0 && node < kMaxNodes, "free_huge: %p has corrupted node %d", p, node);
  NodeState& n = g_table.nodes[node];
  {
    LockGuard<SpinLock> guard(n.lock);
    --n.huge_mappings;
    n.huge_bytes -= len;
  }
  // Clear the kind first: a racing second free_huge of the same pointer (a
  // user bug) then fails the check instead of unmapping twice, most of the time.
  d->kind = PageKind::kUnused;
  segment_unregister(seg);
  os_unmap(seg, len);
}

void* resize_huge(void* p, std::size_t bytes) {
  PageDesc* d = page_lookup(p);
  NS_CHECK(
      d != nullptr && d->kind == PageKind::kHuge && page_address(d) == p && segment_of(d)->huge,
      "resize_huge: %p is not a huge allocation", p);
  SegmentHeader* seg = segment_of(d);
  if (bytes > kMaxHugeBytes) {
    errno = ENOMEM;
    return nullptr;
  }
  const std::size_t old_len = seg->mapped_bytes;
  const std::uint32_t first = d->index;  // the block keeps its offset, so its alignment
  const std::size_t len =
      std::size_t{first} * kPageSize + ((bytes + kPageSize - 1) & ~(kPageSize - 1));
  const auto desc_end = [](std::size_t l) {
    const std::size_t pages = l >> kPageShift;
    return static_cast<std::uint32_t>(pages < kPagesPerSegment ? pages : kPagesPerSegment);
  };
  if (len != old_len) {
    // Unregistered while it may move: the block is its caller's alone.
    segment_unregister(seg);
    void* moved = os_resize(seg, old_len, len, kSegmentSize);
    if (moved == nullptr) {
      segment_register(seg);
      return nullptr;
    }
    const std::uint32_t old_end = desc_end(old_len);
    seg = static_cast<SegmentHeader*>(moved);
    seg->mapped_bytes = len;
    const std::uint32_t end = desc_end(len);
    if (end > old_end) mark_pages(seg, old_end, end - old_end, PageKind::kTail, 0);
    if (end < old_end) mark_pages(seg, end, old_end - end, PageKind::kUnused, 0);
    segment_register(seg);
    NodeState& n = g_table.nodes[seg->node];
    LockGuard<SpinLock> guard(n.lock);
    n.huge_bytes += len;
    n.huge_bytes -= old_len;
  }
  PageDesc& head = seg->pages[first];
  head.size = bytes;
  return page_address(&head);
}

namespace {
// True if a segment with no used pages has all its blocks on the free lists
// (release_idle may hold some off them for a moment) and, with clean_only,
// all of them released.
bool segment_trimmable(SegmentHeader* seg, bool clean_only) {
  if (seg->used_pages.load(std::memory_order_relaxed) != 0) return false;
  for (std::uint32_t i = kHeaderPages; i < kPagesPerSegment;) {
    const PageDesc& b = seg->pages[i];
    if (b.kind != PageKind::kFree || (clean_only && b.size != 0)) return false;
    i += 1u << b.order;
  }
  return true;
}
}  // namespace

std::size_t trim_node(int node, std::size_t keep, bool clean_only) {
  if (node < 0 || node >= kMaxNodes) return 0;
  NodeState& n = g_table.nodes[node];
  SegmentHeader* detached = nullptr;
  {
    LockGuard<SpinLock> guard(n.lock);
    std::size_t kept = 0;
    SegmentHeader** link = &n.segments;
    while (SegmentHeader* seg = *link) {
      const bool idle = segment_trimmable(seg, clean_only);
      if (!idle || kept < keep) {
        if (idle) ++kept;
        link = &seg->next_in_node;
        continue;
      }
      // Fully free: its blocks are exactly the initial carving; take them off.
      for (std::uint32_t i = kHeaderPages; i < kPagesPerSegment;) {
        PageDesc* b = &seg->pages[i];
        NS_CHECK(b->kind == PageKind::kFree,
                 "trim_node: free segment %p has a non-free block at page %u",
                 static_cast<void*>(seg), i);
        list_remove(n, b, b->order);
        i += 1u << b->order;
      }
      *link = seg->next_in_node;
      seg->next_in_node = detached;
      detached = seg;
      --n.segment_count;
      n.free_pages -= kDataPages;
    }
  }
  std::size_t bytes = 0;
  while (detached != nullptr) {
    SegmentHeader* seg = detached;
    detached = seg->next_in_node;
    segment_unregister(seg);
    // A checker's view of freed large blocks goes with the mapping (ASan's
    // shadow would outlive it and poison the next mapping there).
    if (tools_active()) tool_pages_reused(seg, kSegmentSize);
    os_unmap(seg, kSegmentSize);
    bytes += kSegmentSize;
  }
  return bytes;
}

std::size_t release_idle(int node, std::uint64_t min_age_ms, std::size_t max_pages) {
  if (!valid_node(node)) return 0;
  NodeState& n = g_table.nodes[node];
  const std::uint64_t now = free_stamp_now();
  std::size_t released = 0;
  for (;;) {
    // Take a batch of resident, old-enough blocks off the lists so nobody can
    // allocate them while they are being released, then madvise unlocked.
    constexpr int kBatch = 32;
    PageDesc* batch[kBatch];
    int got = 0;
    {
      LockGuard<SpinLock> guard(n.lock);
      std::size_t taken = 0;
      for (int o = kMaxRunOrder; o >= 0 && got < kBatch && taken < max_pages; --o) {
        PageDesc* d = n.free_lists[o];
        // Resident blocks are at the front: the first released one ends them.
        while (d && d->size != 0 && got < kBatch && taken < max_pages) {
          PageDesc* next = d->next;
          if (now - d->size >= min_age_ms) {
            taken += std::size_t{1} << o;
            list_remove(n, d, static_cast<unsigned>(o));
            d->kind = PageKind::kAllocated;  // off the lists: buddies must not merge it
            batch[got++] = d;
          }
          d = next;
        }
      }
    }
    if (got == 0) break;
    // A block the kernel would not release stays resident: it goes back
    // with a fresh stamp (not 0, which would call it released) and is tried
    // again after another min_age.
    std::uint64_t stamp[kBatch];
    std::size_t batch_released = 0;
    for (int i = 0; i < got; ++i) {
      std::size_t bytes = kPageSize << batch[i]->order;
      const bool ok = os_release(page_address(batch[i]), bytes);
      stamp[i] = ok ? 0 : now;
      if (ok) batch_released += bytes;
    }
    released += batch_released;
    LockGuard<SpinLock> guard(n.lock);
    for (int i = 0; i < got; ++i)
      insert_free(n, segment_of(batch[i]), batch[i]->index, batch[i]->order, stamp[i]);
    if (batch_released == 0) break;  // the kernel refuses: try again next round
    if ((batch_released >> kPageShift) >= max_pages) break;
    max_pages -= batch_released >> kPageShift;
  }
  return released;
}

PageAllocatorStats page_allocator_stats(int node) {
  PageAllocatorStats s;
  if (node < 0 || node >= kMaxNodes) return s;
  NodeState& n = g_table.nodes[node];
  LockGuard<SpinLock> guard(n.lock);
  s.segments = n.segment_count;
  s.pages_in_use = n.used_pages;
  s.pages_free = n.free_pages;
  s.huge_mappings = n.huge_mappings;
  s.huge_bytes = n.huge_bytes;
  s.resident_free_pages = n.resident_free_pages;
  return s;
}

void set_keep_free_bytes(std::size_t bytes) {
  g_keep_free_pages.store(bytes >> kPageShift, std::memory_order_relaxed);
}

void page_allocator_lock_for_fork() NS_NO_THREAD_SAFETY_ANALYSIS {
  for (NodeState& n : g_table.nodes) n.lock.fork_lock();
  segment_registry_lock_for_fork();
}

void page_allocator_unlock_after_fork() NS_NO_THREAD_SAFETY_ANALYSIS {
  segment_registry_unlock_after_fork();
  for (NodeState& n : g_table.nodes) n.lock.fork_unlock();
}

}  // namespace numaslab::detail
