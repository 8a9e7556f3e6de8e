// numaslab — the debug layer (the kernel's CONFIG_DEBUG_SLAB): red zones,
// poisoning, allocating and freeing call sites, and the reports they give.
//
// Contract:
//  * A debug cache lays each object out as
//      [0, obj_size) the user's bytes | [obj_size, obj_size + redzone) red zone
//      | DebugTrailer (state, requested size, call sites) | padding to buffer_size
//    so the metadata costs a larger stride and nothing else: no allocation.
//    obj_size = object_size rounded up to a word; redzone = kRedZoneBytes with
//    kDebugRedZone, else 0. Every debug flag gives the trailer.
//  * This layer knows objects, not caches: the cache layer calls it on the
//    slow paths only (a debug cache's per-CPU slots carry kStopFast, so the
//    hand-written fast paths never serve it and gain no instruction):
//      debug_init_object — a new slab's object (after the constructor);
//      debug_hand_out    — an object leaving the allocator;
//      debug_set_requested — kmalloc's requested size (red zone from there);
//      debug_free        — an object coming back, validated as an object
//                          of its cache.
//  * Trailer state: kFresh (constructed, never handed out), kLive (the
//    user's), kFreed (poisoned when kDebugPoison). A free of a kFreed object
//    is a double free (both call sites named); a hand-out of a kLive one is
//    an object handed out twice; any other value is a corrupted trailer.
//  * Invariants of a debug object at a quiescent point:
//      kLive:  bytes [requested, obj_size + redzone) == kRedByte (redzone set);
//      kFreed: bytes [0, obj_size) == kPoisonByte (poison set) and the red
//              zone intact.
//    debug_check_object() checks them (verify()); free and hand-out check
//    the half that applies, and report with fatal: cache, object, offset of
//    the first bad byte, a hex dump around it, and the call sites.
//  * Call sites are return addresses into the caller of the public entry
//    point (site_enter() at the entry, a SitePin to name the site for a
//    whole operation); numaslab's own metadata is allocated under
//    SitePin(nullptr) and has no site, so leak reports leave it out.
//    Sites print as "0x… (symbol+0x…, object)" through dladdr, which does
//    not allocate.
// Locks: none. Trailer fields are written by whoever holds the object and
// read by reports with relaxed atomics.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/format.h"

namespace numaslab::detail {

// Debug flags of a cache (the public NUMASLAB_RED_ZONE, NUMASLAB_POISON and
// NUMASLAB_STORE_USER are the same bits, as the kernel's SLAB_* flags).
inline constexpr unsigned kDebugRedZone = 0x400;
inline constexpr unsigned kDebugPoison = 0x800;
inline constexpr unsigned kDebugStoreUser = 0x10000;
inline constexpr unsigned kDebugFlags = kDebugRedZone | kDebugPoison | kDebugStoreUser;

inline constexpr std::size_t kRedZoneBytes = 16;
inline constexpr unsigned char kRedByte = 0xbb;
inline constexpr unsigned char kPoisonByte = 0x6b;

inline constexpr std::uint32_t kStateFresh = 0x46524553;  // "SERF"
inline constexpr std::uint32_t kStateLive = 0x4556494c;   // "LIVE"
inline constexpr std::uint32_t kStateFreed = 0x45455246;  // "FREE"

struct DebugTrailer {
  std::uint32_t state;
  std::uint32_t requested;  // bytes asked for (kmalloc), else obj_size
  void* alloc_site;
  void* free_site;
  std::uint32_t alloc_tid;
  std::uint32_t free_tid;
  std::int32_t alloc_cpu;
  std::int32_t free_cpu;
};
static_assert(sizeof(DebugTrailer) == 40);

// A cache's debug layout (a member of Cache: small, since the descriptor's
// size decides where the slot table starts).
struct DebugLayout {
  unsigned flags = 0;          // kDebug* bits; 0: not a debug cache
  std::uint32_t obj_size = 0;  // the user's bytes
  std::uint32_t redzone = 0;   // red zone bytes after them

  std::uint32_t trailer_offset() const { return obj_size + redzone; }
};

// What the debug layer needs to know of a cache for one operation.
struct DebugInfo : DebugLayout {
  const char* name = nullptr;  // the cache's name (for reports)
  void (*ctor)(void*) = nullptr;

  DebugTrailer* trailer(void* obj) const {
    return reinterpret_cast<DebugTrailer*>(static_cast<char*>(obj) + trailer_offset());
  }
};

// The bytes a debug object needs for `size` user bytes, and the layout.
// Returns size itself when flags has no debug bit.
std::size_t debug_layout(std::size_t size, unsigned flags, DebugLayout* layout);

void debug_init_object(const DebugInfo& d, void* obj);
void debug_hand_out(const DebugInfo& d, void* obj, const char* api);
void debug_set_requested(const DebugInfo& d, void* obj, std::size_t size);
void debug_free(const DebugInfo& d, void* obj, const char* api);
// Requested size of a debug object (ksize, the leak report).
std::size_t debug_requested(const DebugInfo& d, const void* obj);
// True if obj is the user's (kLive); *site its allocating call site.
bool debug_live(const DebugInfo& d, const void* obj, void** site);
// verify(): appends a description of what is wrong with obj to `out` and
// returns false, or returns true.
bool debug_check_object(const DebugInfo& d, void* obj, BufWriter& out);

// ---- call sites ----
// True once any debug cache exists, and before start-up (sites.cc): the
// entry points record their caller.
extern bool g_debug_sites;
// At a public entry point: ra is the caller's return address; ignored while
// a SitePin is in force.
void site_enter(void* ra);
// The site recorded for the operation under way (nullptr: numaslab's own).
void* debug_current_site();
// Names the site of a whole operation (nested entry points do not change it).
class SitePin {
 public:
  explicit SitePin(void* site) : active_(g_debug_sites) {
    if (active_) saved_ = pin(site);
  }
  ~SitePin() {
    if (active_) unpin(saved_);
  }
  SitePin(const SitePin&) = delete;
  SitePin& operator=(const SitePin&) = delete;

 private:
  static void* pin(void* site);
  static void unpin(void* saved);
  void* saved_ = nullptr;
  bool active_;
};
// numaslab's own metadata: no call site.
#define NS_INTERNAL_ALLOCATION ::numaslab::detail::SitePin ns_internal_site_(nullptr)
// An entry point that is not a tail call of another: its caller is the site.
#define NS_CALLER_SITE ::numaslab::detail::SitePin ns_caller_site_(__builtin_return_address(0))

// "0x… (symbol+0x…, object)", or "an unknown site" for nullptr.
void put_site(BufWriter& w, const void* site);

}  // namespace numaslab::detail
