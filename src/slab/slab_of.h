// numaslab — object → slab: the one resolution every path uses (the kernel's
// virt_to_slab and obj_to_index).
//
// Contract:
//  * A pointer's page descriptor (page/page_map.h: page_lookup, which
//    rejects memory that is not ours) names its slab when the page is a slab
//    page (kind kSlab); resolve_object() adds the object's index, -1 when the
//    pointer is not exactly at an object boundary (an interior pointer).
//  * slab_of_object() is for pointers that must be slab objects (taken from
//    our own arrays): anything else is heap corruption, and fatal.
//  * Nothing here takes a lock or checks which cache owns the slab: the
//    caller compares d->owner with its cache.
#pragma once

#include <cstdint>

#include "base/check.h"
#include "page/page_map.h"
#include "slab/geometry.h"
#include "slab/slab.h"

namespace numaslab::detail {

// Object index of obj in s, or -1 if obj is not exactly at an object boundary.
inline std::int64_t slab_object_index(const SlabGeometry& g, const Slab* s, const void* obj) {
  const char* p = static_cast<const char*>(obj);
  if (p < s->s_mem) return -1;
  std::uint64_t off = static_cast<std::uint64_t>(p - s->s_mem);
  if (off >= std::uint64_t{g.num} * g.buffer_size) return -1;
  std::uint32_t idx = divide_by_size(g, static_cast<std::uint32_t>(off));
  if (std::uint64_t{idx} * g.buffer_size != off) return -1;
  return idx;
}

// A slab object: its slab (nullptr: not in a slab page) and its index (-1:
// not at an object boundary).
struct SlabObject {
  Slab* slab = nullptr;
  std::int64_t index = -1;
};

inline SlabObject resolve_object(const PageDesc* d, const SlabGeometry& g, const void* obj) {
  if (!d || d->kind != PageKind::kSlab) return {};
  auto* s = static_cast<Slab*>(d->slab);
  return {s, slab_object_index(g, s, obj)};
}

// The slab of an object that must be one; `what` names the caller in the
// diagnostic.
inline Slab* slab_of_object(const void* obj, const char* what) {
  const PageDesc* d = page_lookup(obj);
  NS_CHECK(d && d->kind == PageKind::kSlab, "%s: %p is not a slab object", what, obj);
  return static_cast<Slab*>(d->slab);
}

}  // namespace numaslab::detail
