// numaslab — telling memory checkers which objects are the user's: ASan (our
// own sanitizer presets, or a user's program built with -fsanitize=address
// that links the release library) and valgrind's memcheck.
//
// Contract:
//  * tools_init() decides once, at start-up and before any cache exists,
//    whether a checker watches the process (g_tools): this build is an ASan
//    build (NUMASLAB_ASAN), the ASan runtime is in the process (its
//    interface functions, declared weak here, resolve), or RUNNING_ON_VALGRIND.
//    With a checker the hand-written fast paths are closed (a hit would hand
//    an object out unseen) and every cache is "watched": its slow paths call
//    the functions below. Without one nothing here runs, and nothing is on
//    a fast path.
//  * The life of an object's bytes, as the checkers are told it:
//      tool_slab_created  — a new slab's objects: unaddressable;
//      tool_alloc         — handed out: addressable (memcheck: a block of
//                           `size` bytes, defined if it holds constructed state);
//      tool_resize        — the block's usable size is now `size` (kmalloc's
//                           requested size; the rest unaddressable);
//      tool_free          — freed: unaddressable (memcheck: the block ends);
//      tool_slab_destroyed — the slab's pages go back: addressable again.
//  * numaslab's own reads and writes of an object's bytes (poison, red zones,
//    a copy) run between tool_quiet_begin()/end(): memcheck does not report
//    them; ASan never sees them (numaslab is not instrumented, and they use
//    no intercepted libc function).
//  * tool_scrub() clears array entries objects left (under a checker only).
//  * Constructed state is untouched: these change the checkers' shadow, not
//    the memory.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define NUMASLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NUMASLAB_ASAN 1
#endif
#endif

namespace numaslab::detail {

extern bool g_tools;  // a checker watches the process; set by tools_init()
inline bool tools_active() { return g_tools; }
// Returns g_tools; writes which checker into *name ("" for none).
bool tools_init(const char** name);
// "valgrind", "asan" or "none" (after tools_init).
const char* tools_name();

// A page run handed out by the page allocator (for a slab or a large
// block): addressable again, whatever it was told at its last free.
void tool_pages_reused(const void* p, std::size_t size);
// A large block (a page run or a mapping of its own) freed; `mapped`: its
// mapping goes away now (ASan's shadow stays as the next mapping needs it).
void tool_free_large(const void* p, std::size_t size, bool mapped);
void tool_slab_created(const void* p, std::size_t size);
void tool_slab_destroyed(const void* p, std::size_t size);
void tool_alloc(const void* p, std::size_t size, bool defined);
void tool_resize(const void* p, std::size_t old_size, std::size_t size);
void tool_free(const void* p, std::size_t size);
void tool_quiet_begin();
void tool_quiet_end();
// memcheck's block at `from` is now the `size` bytes at `to` (a block
// reached through an interior pointer); the bytes between stay addressable
// and defined.
void tool_move_block(const void* from, const void* to, std::size_t size);
// Clears array entries an object just left: memcheck's leak check would
// take a stale pointer in an array for a reference to a block that leaked.
inline void tool_scrub(void** entries, std::size_t n) {
  if (__builtin_expect(g_tools, 0))
    for (std::size_t i = 0; i < n; ++i) entries[i] = nullptr;
}

}  // namespace numaslab::detail
