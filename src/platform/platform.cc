#include "platform/platform.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace numaslab::detail {

namespace {

void* real_map(std::size_t len, bool reserve) {
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve ? MAP_NORESERVE : 0);
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}
int real_unmap(void* p, std::size_t len) { return ::munmap(p, len); }
int real_advise(void* p, std::size_t len) { return ::madvise(p, len, MADV_DONTNEED); }
long real_bind(void* p, std::size_t len, const unsigned long* mask, unsigned long maxnode) {
  constexpr int kMpolPreferred = 1;
  return ::syscall(SYS_mbind, p, len, kMpolPreferred, mask, maxnode, 0U);
}
int real_thread(pthread_t* tid, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  return ::pthread_create(tid, attr, fn, arg);
}

void* real_remap(void* p, std::size_t old_len, std::size_t new_len, void* to) {
  void* q = to ? ::mremap(p, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, to)
               : ::mremap(p, old_len, new_len, 0);
  return q == MAP_FAILED ? nullptr : q;
}

constexpr Platform kReal{real_map, real_unmap, real_advise, real_bind, real_thread, real_remap};
std::atomic<const Platform*> g_platform{&kReal};

}  // namespace

const Platform& real_platform() { return kReal; }
const Platform& platform() { return *g_platform.load(std::memory_order_acquire); }
void set_platform(const Platform* p) {
  g_platform.store(p ? p : &kReal, std::memory_order_release);
}

}  // namespace numaslab::detail
