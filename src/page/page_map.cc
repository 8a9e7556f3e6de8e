// numaslab — segment registry and page_lookup.
//
// The registry is one bit per possible segment of the 47-bit user address
// space: 2^47 / 2^22 = 2^25 bits = 4 MiB of bitmap. It is reserved once with
// os_reserve (NORESERVE, so only the words ever written cost memory) and its
// words are accessed with atomic_ref, so page_lookup takes no lock.
#include "page/page_map.h"

#include <atomic>
#include <cstdint>

#include "base/check.h"
#include "base/lock.h"
#include "platform/os_memory.h"

namespace numaslab::detail {

// Published once with release; never changes afterwards (the reservation is
// kept for the life of the process).
std::atomic<std::uint64_t*> g_bitmap{nullptr};

namespace {

constexpr std::size_t kRegistryBits = std::size_t{1} << (kAddressBits - kSegmentShift);
constexpr std::size_t kRegistryBytes = kRegistryBits / 8;

// Serialises the one-time reservation (so a lost race never leaks a 4 MiB
// reservation) and bitmap updates, as the lock ranks promise.
constinit SpinLock g_registry_lock{LockRank::kSegments, LockName{"segment_lock", nullptr, -1}};

struct BitPos {
  std::size_t word;
  std::uint64_t mask;
};

BitPos bit_of(std::uintptr_t addr) {
  std::size_t seg = addr >> kSegmentShift;
  return BitPos{seg >> 6, std::uint64_t{1} << (seg & 63)};
}

std::uint64_t* registry_or_die() {
  std::uint64_t* bm = g_bitmap.load(std::memory_order_acquire);
  NS_CHECK(bm != nullptr, "segment registry used before segment_registry_reserve()");
  return bm;
}

}  // namespace

bool segment_registry_reserve() {
  if (g_bitmap.load(std::memory_order_acquire) != nullptr) return true;
  LockGuard<SpinLock> guard(g_registry_lock);
  if (g_bitmap.load(std::memory_order_relaxed) != nullptr) return true;
  void* p = os_reserve(kRegistryBytes);
  if (p == nullptr) return false;
  g_bitmap.store(static_cast<std::uint64_t*>(p), std::memory_order_release);
  return true;
}

void segment_register(SegmentHeader* seg) {
  auto addr = reinterpret_cast<std::uintptr_t>(seg);
  NS_CHECK((addr & (kSegmentSize - 1)) == 0 && addr < kAddressLimit,
           "segment_register: %p is not a segment-aligned user address", static_cast<void*>(seg));
  NS_CHECK(seg->magic == kSegmentMagic, "segment_register: %p has no segment header",
           static_cast<void*>(seg));
  std::uint64_t* bm = registry_or_die();
  BitPos b = bit_of(addr);
  LockGuard<SpinLock> guard(g_registry_lock);
  // Release: a reader that sees the bit also sees the header written before.
  std::uint64_t old = std::atomic_ref<std::uint64_t>(bm[b.word]).fetch_or(b.mask, std::memory_order_release);
  NS_CHECK((old & b.mask) == 0, "segment_register: segment %p registered twice",
           static_cast<void*>(seg));
}

void segment_unregister(SegmentHeader* seg) {
  auto addr = reinterpret_cast<std::uintptr_t>(seg);
  std::uint64_t* bm = registry_or_die();
  BitPos b = bit_of(addr);
  LockGuard<SpinLock> guard(g_registry_lock);
  std::uint64_t old = std::atomic_ref<std::uint64_t>(bm[b.word]).fetch_and(~b.mask, std::memory_order_acq_rel);
  NS_CHECK((old & b.mask) != 0, "segment_unregister: segment %p is not registered",
           static_cast<void*>(seg));
}

void page_lookup_corrupt(const void* seg, const void* p) {
  fatal("page_lookup: segment %p (holding %p) has a corrupted header: magic 0x%llx", seg, p,
        static_cast<unsigned long long>(static_cast<const SegmentHeader*>(seg)->magic));
}

void* page_address(const PageDesc* d) {
  auto base = reinterpret_cast<std::uintptr_t>(segment_of(d));
  return reinterpret_cast<void*>(base + std::uintptr_t{d->index} * kPageSize);
}

}  // namespace numaslab::detail
