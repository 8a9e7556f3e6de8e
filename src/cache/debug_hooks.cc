// The cache layer's side of the debug layer and the memory checkers: the
// object paths of watched caches, verify's walk of debug objects, live
// objects of a cache being destroyed, and the leak report (cache.h).
#include "base/check.h"
#include "base/sanitizer.h"
#include "cache/cache.h"
#include "cache/internal.h"
#include "cache/registry.h"
#include "debug/leaks.h"
#include "platform/options.h"

namespace numaslab::detail {

namespace {

// Serialised by the registry mutex, which every user holds.
LeakTable g_leaks NS_GUARDED_BY(registry().mutex);

constexpr int kLeakLines = 20;

DebugInfo info(const Cache* c) {
  DebugInfo d;
  static_cast<DebugLayout&>(d) = c->debug;
  d.name = c->name;
  d.ctor = c->ctor;
  return d;
}

std::size_t user_bytes(const Cache* c) {
  return c->debug.flags ? c->debug.obj_size : c->geo.buffer_size;
}

class Quiet {
 public:
  Quiet() { tool_quiet_begin(); }
  ~Quiet() { tool_quiet_end(); }
  Quiet(const Quiet&) = delete;
  Quiet& operator=(const Quiet&) = delete;
};

// Every object of every slab of c in use (bufctl says it left its slab) and
// live for the debug layer, with its site: into g_leaks.
void collect_live(Cache* c) NS_REQUIRES(registry().mutex) {
  for (int n = 0; n < topology().num_nodes(); ++n) {
    NodeLists* nl = c->node(n);
    if (!nl) continue;
    LockGuard<SpinLock> g(nl->list_lock);
    Quiet q;
    for (SlabQueue* list : {&nl->partial, &nl->full}) {
      for (Slab* s = list->head; s; s = s->next) {
        for (std::uint32_t i = 0; i < c->geo.num; ++i) {
          const std::uint32_t st = s->load_bufctl(i);
          if (st != kBufctlCached && st != kBufctlUser) continue;
          void* obj = s->s_mem + std::size_t{i} * c->geo.buffer_size;
          void* site = nullptr;
          if (debug_live(info(c), obj, &site) && site)
            g_leaks.add(c->name, site, debug_requested(info(c), obj));
        }
      }
    }
  }
}

}  // namespace

unsigned debug_flags_for(unsigned flags) {
  unsigned f = flags & kDebugFlags;
  const unsigned env = options().debug;
  if (env & kDebugOptRedZone) f |= kDebugRedZone;
  if (env & kDebugOptPoison) f |= kDebugPoison;
  if (env & (kDebugOptUser | kDebugOptLeaks)) f |= kDebugStoreUser;
  if (f) g_debug_sites = true;
  return f;
}

void* hand_out_watched(Cache* c, void* obj) {
  if (check_full()) mark_user(c, obj);
  // Addressable first: a constructor that runs again writes the object.
  tool_alloc(obj, user_bytes(c), c->ctor != nullptr);
  if (c->debug.flags) {
    Quiet q;
    debug_hand_out(info(c), obj, c->is_kmalloc ? "numaslab_kmalloc" : "numaslab_cache_alloc");
  }
  return obj;
}

void free_watched(Cache* c, void* obj, const char* api) {
  if (c->debug.flags) {
    Quiet q;
    debug_free(info(c), obj, api);
  }
  tool_free(obj, c->geo.buffer_size);
}

void slab_created_watched(Cache* c, Slab* s) {
  if (c->debug.flags) {
    for (std::uint32_t i = 0; i < c->geo.num; ++i)
      debug_init_object(info(c), s->s_mem + std::size_t{i} * c->geo.buffer_size);
  }
  tool_slab_created(s->s_mem, std::size_t{c->geo.num} * c->geo.buffer_size);
}

void slab_destroyed_watched(Cache* c, Slab* s) {
  tool_slab_destroyed(s->s_mem, std::size_t{c->geo.num} * c->geo.buffer_size);
}

// Only debug objects remember their requested size; a checker's block is
// the whole object otherwise, as ksize says.
void kmalloc_note_size(Cache* c, void* obj, std::size_t size) {
  if (!obj || !c->debug.flags) return;
  const std::size_t have = c->debug.obj_size;
  if (size > have) size = have;
  {
    Quiet q;
    debug_set_requested(info(c), obj, size);
  }
  tool_resize(obj, have, size);
}

std::size_t usable_size(const Cache* c, const void* obj) {
  if (c->debug.flags) return debug_requested(info(c), obj);
  return c->geo.buffer_size;
}

int verify_debug_objects(Cache* c, NodeLists* nl, BufWriter& out, int max_lines) {
  if (!c->debug.flags) return 0;
  int bad = 0;
  Quiet q;
  for (SlabQueue* list : {&nl->partial, &nl->full, &nl->free}) {
    for (Slab* s = list->head; s; s = s->next) {
      for (std::uint32_t i = 0; i < c->geo.num; ++i) {
        void* obj = s->s_mem + std::size_t{i} * c->geo.buffer_size;
        char line[256];
        BufWriter w(line, sizeof line);
        if (debug_check_object(info(c), obj, w)) continue;
        if (++bad <= max_lines) out.printf("cache '%s': %s\n", c->name, w.c_str());
      }
    }
  }
  return bad;
}

void report_live_objects(Cache* c) {
  if (!c->debug.flags) return;
  g_leaks.clear();
  collect_live(c);
  if (g_leaks.objects()) g_leaks.write(2, "objects still in use", kLeakLines);
}

std::uint64_t leak_report(int fd, bool quiet) {
  if (!booted()) {
    if (!quiet) LeakTable{}.write(fd, "leak report", 0);
    return 0;
  }
  LockGuard<Mutex> g(registry().mutex);
  g_leaks.clear();
  for (Cache* c = registry().head; c; c = c->next)
    if (c->debug.flags) collect_live(c);
  if (!quiet || g_leaks.objects()) g_leaks.write(fd, "leak report", kLeakLines);
  return g_leaks.objects();
}

}  // namespace numaslab::detail
