// numaslab-stress — the objects of the simulated file server and their stamps.
//
// Typed objects (inode, dentry, file, buffer_head) come from caches with
// constructors. Layout:
//   [0, 8)          constructed magic, one value per cache (the constructor's)
//   [8, 24)         live stamp {magic, owner thread, checksum, serial}
//   [size-8, size)  tail word: kCtorTail while free, serial-derived while live
// The constructed state (magic, cleared stamp, kCtorTail) must be what every
// allocation finds; the user restores it before freeing, as kernel users of
// constructed caches must.
//
// kmalloc buffers have no constructor: the live stamp sits at offset 0 and
// the rest of the requested size is filled with a pattern derived from the
// serial; free checks the stamp and every byte of the pattern, then marks the
// stamp freed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "numaslab/numaslab.h"

namespace stress {

enum Kind : std::uint8_t { kInode, kDentry, kFile, kBufferHead, kNumTyped, kKmalloc = kNumTyped };

struct TypedSpec {
  const char* name;
  std::size_t size;
  void (*ctor)(void*);
};
extern const TypedSpec kTyped[kNumTyped];

// Creates the four caches; false (with a message) on failure.
bool create_caches();
numaslab_cache* cache_of(Kind k);
std::uint64_t ctor_calls(Kind k);
// Shrinks and destroys the caches; returns the number of failures (reported
// as errors). A shrink that needed a second pass is a warning.
// objects_leaked: the tool kept objects that failed a check; only try.
int destroy_caches(std::vector<std::string>* warnings, bool objects_leaked);

// An object the tool holds.
struct Handle {
  void* p = nullptr;
  std::uint64_t serial = 0;
  std::uint32_t size = 0;  // requested size (kmalloc) or object size
  Kind kind = kKmalloc;
  std::uint8_t node = 0xff;  // node asked for with *_node, 0xff if none
  std::uint16_t owner = 0;   // worker that allocated it
};

const char* kind_name(Kind k);

// Checks on allocation ("constructed, not live" for typed objects; "not live"
// for kmalloc buffers unless zeroed), then writes the live stamp. Returns
// false after reporting an error; the object must then not be touched again.
bool stamp_on_alloc(Handle& h, int owner, bool zeroed);
// Checks the live stamp (and pattern), then restores the constructed state /
// marks the buffer freed. false after reporting an error: do not free it.
bool check_on_free(const Handle& h, int freer);

}  // namespace stress
