// numaslab — segment registry and page_lookup.
//
// The registry is one byte per possible segment of the 47-bit user address
// space: 2^47 / 2^22 = 2^25 bytes. It lives in .bss (32 MiB of address space;
// only the pages holding a registered segment's byte are ever written, the
// rest read as the shared zero page), so it exists before any constructor
// runs and the fast paths test a segment with one byte load. Bytes are
// accessed with atomic_ref, so page_lookup takes no lock.
#include "page/page_map.h"

#include <atomic>
#include <cstdint>

#include "base/check.h"
#include "base/lock.h"

extern "C" {
__attribute__((visibility("hidden"), aligned(4096)))
std::uint8_t ns_segment_map[numaslab::detail::kSegmentMapBytes];
}

namespace numaslab::detail {

namespace {

// Serialises registry updates, as the lock ranks promise.
constinit SpinLock g_registry_lock{LockRank::kSegments, LockName{"segment_lock", nullptr, -1}};

}  // namespace

void segment_register(SegmentHeader* seg) {
  auto addr = reinterpret_cast<std::uintptr_t>(seg);
  NS_CHECK((addr & (kSegmentSize - 1)) == 0 && addr < kAddressLimit,
           "segment_register: %p is not a segment-aligned user address", static_cast<void*>(seg));
  NS_CHECK(seg->magic == kSegmentMagic, "segment_register: %p has no segment header",
           static_cast<void*>(seg));
  LockGuard<SpinLock> guard(g_registry_lock);
  // Release: a reader that sees the byte also sees the header written before.
  std::uint8_t old = std::atomic_ref<std::uint8_t>(ns_segment_map[addr >> kSegmentShift])
                         .exchange(1, std::memory_order_release);
  NS_CHECK(old == 0, "segment_register: segment %p registered twice", static_cast<void*>(seg));
}

void segment_unregister(SegmentHeader* seg) {
  auto addr = reinterpret_cast<std::uintptr_t>(seg);
  LockGuard<SpinLock> guard(g_registry_lock);
  std::uint8_t old = std::atomic_ref<std::uint8_t>(ns_segment_map[addr >> kSegmentShift])
                         .exchange(0, std::memory_order_acq_rel);
  NS_CHECK(old != 0, "segment_unregister: segment %p is not registered", static_cast<void*>(seg));
}

void page_lookup_corrupt(const void* seg, const void* p) {
  fatal("page_lookup: segment %p (holding %p) has a corrupted header: magic 0x%llx", seg, p,
        static_cast<unsigned long long>(static_cast<const SegmentHeader*>(seg)->magic));
}

void* page_address(const PageDesc* d) {
  auto base = reinterpret_cast<std::uintptr_t>(segment_of(d));
  return reinterpret_cast<void*>(base + std::uintptr_t{d->index} * kPageSize);
}

void segment_registry_lock_for_fork() NS_NO_THREAD_SAFETY_ANALYSIS { g_registry_lock.fork_lock(); }
void segment_registry_unlock_after_fork() NS_NO_THREAD_SAFETY_ANALYSIS {
  g_registry_lock.fork_unlock();
}

}  // namespace numaslab::detail
