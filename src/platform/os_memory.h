// numaslab — operating-system memory: aligned mappings, node binding, release.
//
// Contract: thin, allocation-free wrappers over mmap/munmap/madvise/mbind,
// made through the platform seam (platform/platform.h), so a test platform
// can fail any of them. Every function reports failure through its return
// value and errno; none aborts. No locks are taken here.
#pragma once

#include <atomic>
#include <cstddef>

namespace numaslab::detail {

// Maps `size` bytes aligned to `align` (a power of two >= page size), read/write,
// private, anonymous. Returns nullptr with errno = ENOMEM on failure.
void* os_map_aligned(std::size_t size, std::size_t align);
void os_unmap(void* p, std::size_t size);
// Resizes the mapping [p, p + old_size) to new_size bytes, in place if the
// kernel can, else moved (page tables, not contents) to a fresh mapping
// aligned to `align`. The new address, or nullptr with errno = ENOMEM (the
// old mapping is then unchanged).
void* os_resize(void* p, std::size_t old_size, std::size_t new_size, std::size_t align);

// Reserves address space without committing it (PROT_READ|WRITE, NORESERVE).
void* os_reserve(std::size_t size);

// Tells the kernel the range's contents are no longer needed (MADV_DONTNEED):
// the pages read back as zero and stop counting towards RSS. False if the
// kernel refused (the contents are then unchanged).
bool os_release(void* p, std::size_t size);

// Prefers physical pages of `node` for the range (mbind MPOL_PREFERRED).
// Returns false if the kernel refused (no NUMA support, bad node).
bool os_bind_to_node(void* p, std::size_t size, int node);

// Number of successful os_map_aligned calls and bytes currently mapped by them.
std::size_t os_mapped_bytes();

}  // namespace numaslab::detail
