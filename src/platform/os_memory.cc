#include "platform/os_memory.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace numaslab::detail {

std::atomic<int> g_fail_next_maps{0};

namespace {
std::atomic<std::size_t> g_mapped_bytes{0};

bool consume_injected_failure() {
  int n = g_fail_next_maps.load(std::memory_order_relaxed);
  while (n > 0) {
    if (g_fail_next_maps.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}
}  // namespace

void* os_map_aligned(std::size_t size, std::size_t align) {
  if (consume_injected_failure()) {
    errno = ENOMEM;
    return nullptr;
  }
  if (size == 0 || size > (std::size_t{1} << 46) || align > (std::size_t{1} << 30)) {
    errno = ENOMEM;
    return nullptr;
  }
  std::size_t span = size + align;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    errno = ENOMEM;
    return nullptr;
  }
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  std::uintptr_t aligned = (base + align - 1) & ~(std::uintptr_t{align} - 1);
  std::size_t head = aligned - base;
  std::size_t tail = span - head - size;
  if (head) ::munmap(raw, head);
  if (tail) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  g_mapped_bytes.fetch_add(size, std::memory_order_relaxed);
  return reinterpret_cast<void*>(aligned);
}

void os_unmap(void* p, std::size_t size) {
  if (!p) return;
  ::munmap(p, size);
  g_mapped_bytes.fetch_sub(size, std::memory_order_relaxed);
}

void* os_reserve(std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void os_release(void* p, std::size_t size) { ::madvise(p, size, MADV_DONTNEED); }

bool os_bind_to_node(void* p, std::size_t size, int node) {
  if (node < 0 || node >= 1024) return false;
  unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {};
  mask[node / (8 * sizeof(unsigned long))] = 1UL << (node % (8 * sizeof(unsigned long)));
  constexpr int kMpolPreferred = 1;
  long rc = ::syscall(SYS_mbind, p, size, kMpolPreferred, mask, 1024UL, 0U);
  return rc == 0;
}

std::size_t os_mapped_bytes() { return g_mapped_bytes.load(std::memory_order_relaxed); }

}  // namespace numaslab::detail
