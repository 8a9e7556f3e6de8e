// numaslab — helpers shared by the cache layer's translation units only.
//
// Contract: cache_construct() initialises a descriptor in raw memory (from the
// cache of caches, or static storage during bootstrap); cache_populate() gives
// it node lists for every node with CPUs or memory and arrays for every online
// CPU; cache_release() undoes both and frees the descriptor. All three run
// under the registry mutex (or single-threaded during bootstrap).
#pragma once

#include "cache/cache.h"
#include "cache/registry.h"

namespace numaslab::detail {

// Default array limit and batch of caches with objects up to 256 bytes.
inline constexpr std::uint32_t kSmallObjectLimit = 256;
inline constexpr std::uint32_t kSmallObjectBatch = 60;
// The batch of a shared array: never used as one (a shared array moves what
// its node's CPUs' batches move), so a recognisable value.
inline constexpr std::uint32_t kSharedSentinelBatch = 0xbaadf00d;

void default_tunables(std::uint32_t buffer_size, std::uint32_t* limit, std::uint32_t* batch,
                      std::uint32_t* shared);
// debug: the layout cache_geometry() chose (nullptr: none).
Cache* cache_construct(void* mem, const char* name, std::size_t size, std::size_t align,
                       unsigned flags, CtorFn ctor, const SlabGeometry& geo,
                       const DebugLayout* debug = nullptr);
// The geometry of a new cache, with the debug layout its flags and
// NUMASLAB_DEBUG ask for. False if size or align cannot be served.
bool cache_geometry(std::size_t size, std::size_t align, unsigned flags, SlabGeometry* geo,
                    DebugLayout* debug);
int cache_populate(Cache* c) NS_REQUIRES(registry().mutex);
void cache_release(Cache* c) NS_REQUIRES(registry().mutex);
void registry_link(Cache* c) NS_REQUIRES(registry().mutex);
// Writes the live objects of debug cache c by allocation site to stderr
// (destroy of a cache still in use; debug_hooks.cc).
void report_live_objects(Cache* c) NS_REQUIRES(registry().mutex);
void registry_unlink(Cache* c) NS_REQUIRES(registry().mutex);

}  // namespace numaslab::detail
