#include "platform/os_memory.h"

#include <cerrno>
#include <cstdint>

#include "platform/platform.h"

namespace numaslab::detail {

namespace {
std::atomic<std::size_t> g_mapped_bytes{0};
}  // namespace

void* os_map_aligned(std::size_t size, std::size_t align) {
  if (size == 0 || size > (std::size_t{1} << 46) || align > (std::size_t{1} << 30)) {
    errno = ENOMEM;
    return nullptr;
  }
  const Platform& os = platform();
  std::size_t span = size + align;
  void* raw = os.map(span, false);
  if (raw == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  std::uintptr_t aligned = (base + align - 1) & ~(std::uintptr_t{align} - 1);
  std::size_t head = aligned - base;
  std::size_t tail = span - head - size;
  // Trimming cannot fail in a way that matters: an untrimmed end stays
  // mapped and unused.
  if (head) (void)os.unmap(raw, head);
  if (tail) (void)os.unmap(reinterpret_cast<void*>(aligned + size), tail);
  g_mapped_bytes.fetch_add(size, std::memory_order_relaxed);
  return reinterpret_cast<void*>(aligned);
}

void os_unmap(void* p, std::size_t size) {
  if (!p) return;
  (void)platform().unmap(p, size);
  g_mapped_bytes.fetch_sub(size, std::memory_order_relaxed);
}

void* os_resize(void* p, std::size_t old_size, std::size_t new_size, std::size_t align) {
  const Platform& os = platform();
  const int saved_errno = errno;  // a failed try in place must not show after a move
  void* q = os.remap(p, old_size, new_size, nullptr);
  if (q == nullptr && new_size > old_size) {
    void* to = os_map_aligned(new_size, align);
    if (to == nullptr) return nullptr;
    q = os.remap(p, old_size, new_size, to);
    if (q == nullptr) {
      os_unmap(to, new_size);
      errno = ENOMEM;
      return nullptr;
    }
    g_mapped_bytes.fetch_sub(new_size, std::memory_order_relaxed);  // counted below
  }
  if (q == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  g_mapped_bytes.fetch_add(new_size - old_size, std::memory_order_relaxed);
  errno = saved_errno;
  return q;
}

void* os_reserve(std::size_t size) { return platform().map(size, true); }

bool os_release(void* p, std::size_t size) { return platform().advise_dontneed(p, size) == 0; }

bool os_bind_to_node(void* p, std::size_t size, int node) {
  if (node < 0 || node >= 1024) return false;
  unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {};
  mask[node / (8 * sizeof(unsigned long))] = 1UL << (node % (8 * sizeof(unsigned long)));
  return platform().bind_preferred(p, size, mask, 1024UL) == 0;
}

std::size_t os_mapped_bytes() { return g_mapped_bytes.load(std::memory_order_relaxed); }

}  // namespace numaslab::detail
