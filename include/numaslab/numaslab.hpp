// numaslab — C++ interface over the C API (numaslab.h).
//
//   numaslab::Cache<Inode> inodes("inode");     // a typed object cache (RAII)
//   Inode* i = inodes.make(args...);            // allocate + construct
//   inodes.destroy(i);                          // destruct + free
//   std::vector<int, numaslab::Allocator<int>> v;       // STL containers on kmalloc
//   numaslab::MemoryResource res; std::pmr::vector<int> w(&res);
//   std::cout << numaslab::slabinfo();           // /proc/slabinfo text
//
// Allocation failures throw std::bad_alloc (the C API's NULL/ENOMEM); a bad
// or duplicate cache name (or size, alignment) throws std::invalid_argument.
// Usable with -fno-exceptions (each throw becomes a message and abort) and
// -fno-rtti. Header-only; link the numaslab library.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory_resource>
#include <new>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "numaslab/numaslab.h"

namespace numaslab {

namespace detail {
// Throws E(what), or without exceptions prints what and aborts.
template <typename E>
[[noreturn]] inline void raise(const char* what) {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  if constexpr (std::is_constructible_v<E, const char*>)
    throw E(what);
  else
    throw E();
#else
  std::fprintf(stderr, "numaslab: %s\n", what);
  std::abort();
#endif
}
}  // namespace detail

// A typed object cache. Objects are raw storage for T until make() constructs
// them; destroy() runs ~T and frees. The cache is destroyed with the Cache
// object; if objects are still in use then, numaslab reports it and keeps the
// cache (the memory is not reused while you might still reach it).
// flags: NUMASLAB_HWCACHE_ALIGN, NUMASLAB_RECLAIM_ACCOUNT, and the debug flags
// NUMASLAB_RED_ZONE, NUMASLAB_POISON, NUMASLAB_STORE_USER (numaslab.h): a
// debug cache checks every object at its free and hand-out and names the
// call sites in its reports.
template <typename T>
class Cache {
 public:
  explicit Cache(const char* name, unsigned flags = 0)
      : c_(numaslab_cache_create(name, sizeof(T), alignof(T), flags, nullptr)) {
    if (c_) return;
    if (errno == EEXIST)
      detail::raise<std::invalid_argument>("numaslab::Cache: a cache of that name exists");
    if (errno == EINVAL)
      detail::raise<std::invalid_argument>(
          "numaslab::Cache: invalid cache name (1..47 printable characters, no spaces, quotes "
          "or backslashes), size or alignment");
    detail::raise<std::bad_alloc>("numaslab::Cache: out of memory");
  }
  ~Cache() {
    if (c_) numaslab_cache_destroy(c_);
  }
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;
  Cache(Cache&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}

  T* allocate() { return static_cast<T*>(checked(numaslab_cache_alloc(c_))); }
  T* allocate_on_node(int node) {
    return static_cast<T*>(checked(numaslab_cache_alloc_node(c_, node)));
  }
  void deallocate(T* p) noexcept { numaslab_cache_free(c_, p); }

  template <typename... Args>
  T* make(Args&&... args) {
    return construct(allocate(), std::forward<Args>(args)...);
  }
  template <typename... Args>
  T* make_on_node(int node, Args&&... args) {
    return construct(allocate_on_node(node), std::forward<Args>(args)...);
  }
  void destroy(T* p) noexcept {
    if (!p) return;
    p->~T();
    deallocate(p);
  }

  // 0 if every slab was released, 1 if objects are in use.
  int shrink() noexcept { return numaslab_cache_shrink(c_); }
  int tune(long limit, long batchcount, long shared) noexcept {
    return numaslab_tune(numaslab_cache_name(c_), limit, batchcount, shared);
  }
  const char* name() const noexcept { return numaslab_cache_name(c_); }
  numaslab_cache* get() const noexcept { return c_; }

 private:
  static void* checked(void* p) {
    if (!p) detail::raise<std::bad_alloc>("numaslab::Cache: out of memory");
    return p;
  }
  template <typename... Args>
  T* construct(T* p, Args&&... args) {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
    try {
      return ::new (static_cast<void*>(p)) T(std::forward<Args>(args)...);
    } catch (...) {
      deallocate(p);
      throw;
    }
#else
    return ::new (static_cast<void*>(p)) T(std::forward<Args>(args)...);
#endif
  }
  numaslab_cache* c_;
};

// STL allocator over numaslab_kmalloc (objects up to 16-byte alignment).
template <typename T>
class Allocator {
 public:
  static_assert(alignof(T) <= 16, "numaslab::Allocator supports alignment up to 16 bytes");
  using value_type = T;
  using is_always_equal = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  Allocator() noexcept = default;
  template <typename U>
  Allocator(const Allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T))
      detail::raise<std::bad_array_new_length>("numaslab::Allocator: array too long");
    void* p = numaslab_kmalloc(n * sizeof(T));
    if (!p) detail::raise<std::bad_alloc>("numaslab::Allocator: out of memory");
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { numaslab_kfree(p); }

  // Every Allocator frees what any other allocated (C++17 needs both).
  template <typename U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const Allocator<U>&) const noexcept {
    return false;
  }
};

// std::pmr resource over kmalloc, optionally bound to a node (-1: local).
// Alignments above 16 bytes are served page-aligned (blocks above 32 KiB are
// page runs); above a page, bad_alloc.
class MemoryResource : public std::pmr::memory_resource {
 public:
  explicit MemoryResource(int node = -1) noexcept : node_(node) {}

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    // Aligned requests come from a size class whose objects are aligned.
    void* p = align > 8   ? numaslab_kmalloc_aligned(bytes, align, node_)
              : node_ < 0 ? numaslab_kmalloc(bytes)
                          : numaslab_kmalloc_node(bytes, node_);
    if (!p) detail::raise<std::bad_alloc>("numaslab::MemoryResource: out of memory");
    return p;
  }
  void do_deallocate(void* p, std::size_t, std::size_t) override { numaslab_kfree(p); }
  // Any MemoryResource frees what another allocated (kfree finds the node).
  // Without RTTI only the same object is known to be one.
  bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override {
#if defined(__cpp_rtti) || defined(__GXX_RTTI)
    return dynamic_cast<const MemoryResource*>(&o) != nullptr;
#else
    return &o == this;
#endif
  }
  int node_;
};

// slabinfo text for streams: std::cout << numaslab::slabinfo();
struct SlabinfoText {
  std::string text;
};
// The objects of debug caches still in use, by allocation site, written to
// fd (numaslab_leak_report); returns how many there are.
inline int leak_report(int fd) { return numaslab_leak_report(fd); }

inline SlabinfoText slabinfo() {
  std::string s(1 << 16, '\0');
  std::size_t n = numaslab_slabinfo(s.data(), s.size());
  if (n >= s.size()) {
    s.resize(n + 4096);
    n = numaslab_slabinfo(s.data(), s.size());
  }
  s.resize(n < s.size() ? n : s.size() - 1);
  return {std::move(s)};
}
inline std::ostream& operator<<(std::ostream& os, const SlabinfoText& t) { return os << t.text; }

}  // namespace numaslab
