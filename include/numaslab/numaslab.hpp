// numaslab — C++ interface over the C API (numaslab.h).
//
//   numaslab::Cache<Inode> inodes("inode");     // a typed object cache (RAII)
//   Inode* i = inodes.make(args...);            // allocate + construct
//   inodes.destroy(i);                          // destruct + free
//   std::vector<int, numaslab::Allocator<int>> v;       // STL containers on kmalloc
//   numaslab::MemoryResource res; std::pmr::vector<int> w(&res);
//   std::cout << numaslab::slabinfo();           // /proc/slabinfo text
//
// Allocation failures throw std::bad_alloc (the C API's NULL/ENOMEM).
// Header-only; link the numaslab library.
#pragma once

#include <cerrno>
#include <cstddef>
#include <memory_resource>
#include <new>
#include <ostream>
#include <string>
#include <utility>

#include "numaslab/numaslab.h"

namespace numaslab {

// A typed object cache. Objects are raw storage for T until make() constructs
// them; destroy() runs ~T and frees. The cache is destroyed with the Cache
// object; if objects are still in use then, numaslab reports it and keeps the
// cache (the memory is not reused while you might still reach it).
template <typename T>
class Cache {
 public:
  explicit Cache(const char* name, unsigned flags = 0)
      : c_(numaslab_cache_create(name, sizeof(T), alignof(T), flags, nullptr)) {
    if (!c_) throw std::bad_alloc();
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
    T* p = allocate();
    try {
      return ::new (static_cast<void*>(p)) T(std::forward<Args>(args)...);
    } catch (...) {
      deallocate(p);
      throw;
    }
  }
  template <typename... Args>
  T* make_on_node(int node, Args&&... args) {
    T* p = allocate_on_node(node);
    try {
      return ::new (static_cast<void*>(p)) T(std::forward<Args>(args)...);
    } catch (...) {
      deallocate(p);
      throw;
    }
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
    if (!p) throw std::bad_alloc();
    return p;
  }
  numaslab_cache* c_;
};

// STL allocator over numaslab_kmalloc (objects up to 16-byte alignment).
template <typename T>
class Allocator {
 public:
  static_assert(alignof(T) <= 16, "numaslab::Allocator supports alignment up to 16 bytes");
  using value_type = T;
  Allocator() noexcept = default;
  template <typename U>
  Allocator(const Allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    void* p = numaslab_kmalloc(n * sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { numaslab_kfree(p); }

  template <typename U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
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
    if (align > 4096) throw std::bad_alloc();
    if (align > 16 && bytes <= kLargeMin) bytes = kLargeMin + 1;
    void* p = node_ < 0 ? numaslab_kmalloc(bytes) : numaslab_kmalloc_node(bytes, node_);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void do_deallocate(void* p, std::size_t, std::size_t) override { numaslab_kfree(p); }
  bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override {
    return dynamic_cast<const MemoryResource*>(&o) != nullptr;
  }
  static constexpr std::size_t kLargeMin = 32768;
  int node_;
};

// slabinfo text for streams: std::cout << numaslab::slabinfo();
struct SlabinfoText {
  std::string text;
};
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
