// Debug objects: layout, red zones, poison, trailer states, and the reports
// of what broke them (slab_debug.h).
#include "debug/slab_debug.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "base/check.h"
#include "cpu/cpu_slots.h"

namespace numaslab::detail {

namespace {

constexpr std::size_t kReportBytes = 2048;
constexpr std::size_t kDumpBytes = 16;

__attribute__((tls_model("initial-exec"))) thread_local std::uint32_t t_tid = 0;

std::uint32_t thread_id() {
  if (t_tid == 0) t_tid = static_cast<std::uint32_t>(syscall(SYS_gettid));
  return t_tid;
}

template <class T>
T load(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}
template <class T>
void store(T& field, T v) {
  __atomic_store_n(&field, v, __ATOMIC_RELAXED);
}

unsigned char* bytes(void* obj) { return static_cast<unsigned char*>(obj); }

// Plain loops (no memset/memcmp): a sanitizer's interceptors must not see
// numaslab touch an object whose shadow says it is free.
void fill(unsigned char* p, std::size_t n, unsigned char v) {
  for (std::size_t i = 0; i < n; ++i) static_cast<volatile unsigned char*>(p)[i] = v;
}
// Offset of the first byte in [from, to) that is not v, or `to`.
std::size_t first_not(const unsigned char* p, std::size_t from, std::size_t to, unsigned char v) {
  for (std::size_t i = from; i < to; ++i)
    if (static_cast<const volatile unsigned char*>(p)[i] != v) return i;
  return to;
}

void put_line_prefix(BufWriter& w) { w.put("numaslab:   "); }

void put_who(BufWriter& w, const char* what, const void* site, std::uint32_t tid, int cpu) {
  put_line_prefix(w);
  w.printf("%s at ", what);
  put_site(w, site);
  if (tid) w.printf(" by thread %u on CPU %d", tid, cpu);
  w.put('\n');
}

void put_dump(BufWriter& w, const unsigned char* obj, std::size_t bad, std::size_t end) {
  // Lines of kDumpBytes from the line holding the bad byte (the one before
  // it too when the bad byte opens its line).
  std::size_t from = bad & ~(kDumpBytes - 1);
  if (bad - from < 4 && from >= kDumpBytes) from -= kDumpBytes;
  std::size_t to = from + 2 * kDumpBytes;
  if (to > end) to = end;
  for (std::size_t line = from; line < to; line += kDumpBytes) {
    put_line_prefix(w);
    w.printf("%4zu:", line);
    for (std::size_t i = line; i < line + kDumpBytes && i < to; ++i)
      w.printf(" %02x", static_cast<unsigned>(static_cast<const volatile unsigned char*>(obj)[i]));
    w.put('\n');
  }
}

void put_sites(BufWriter& w, const DebugTrailer* t, bool freed) {
  put_who(w, "allocated", load(t->alloc_site), load(t->alloc_tid), load(t->alloc_cpu));
  if (freed) put_who(w, "last freed", load(t->free_site), load(t->free_tid), load(t->free_cpu));
}

[[noreturn]] void die(BufWriter& w) {
  write_all(2, w.c_str(), w.size());
  std::abort();
}

[[noreturn]] void report_red_zone(const DebugInfo& d, void* obj, std::size_t bad, const char* api) {
  char buf[kReportBytes];
  BufWriter w(buf, sizeof buf);
  const DebugTrailer* t = d.trailer(obj);
  const std::size_t req = load(t->requested);
  w.printf(
      "numaslab: fatal: %s: red zone of %p overwritten (cache '%s'): first bad byte at "
      "offset %zu, %zu past the %zu-byte object\n",
      api, obj, d.name, bad, bad - req, req);
  put_dump(w, bytes(obj), bad, d.trailer_offset());
  put_sites(w, t, false);
  die(w);
}

[[noreturn]] void report_poison(const DebugInfo& d, void* obj, std::size_t bad, const char* api) {
  char buf[kReportBytes];
  BufWriter w(buf, sizeof buf);
  const DebugTrailer* t = d.trailer(obj);
  if (bad < d.obj_size) {
    w.printf(
        "numaslab: fatal: %s: write after free of %p (cache '%s'): first bad byte at "
        "offset %zu of the %u-byte object\n",
        api, obj, d.name, bad, d.obj_size);
  } else {
    w.printf(
        "numaslab: fatal: %s: red zone of free object %p overwritten (cache '%s'): first bad "
        "byte at offset %zu, %zu past the %u-byte object\n",
        api, obj, d.name, bad, bad - d.obj_size, d.obj_size);
  }
  put_dump(w, bytes(obj), bad, d.trailer_offset());
  put_sites(w, t, true);
  die(w);
}

[[noreturn]] void report_state(const DebugInfo& d, void* obj, std::uint32_t state,
                               const char* api) {
  char buf[kReportBytes];
  BufWriter w(buf, sizeof buf);
  w.printf(
      "numaslab: fatal: %s: debug trailer of %p corrupted (cache '%s'): state 0x%08x; "
      "something wrote past the object and its red zone\n",
      api, obj, d.name, state);
  put_dump(w, bytes(obj), d.trailer_offset(), d.trailer_offset() + sizeof(DebugTrailer));
  die(w);
}

void record(void*& site_field, std::uint32_t& tid, std::int32_t& cpu, void* site) {
  store(site_field, site);
  store(tid, thread_id());
  store(cpu, static_cast<std::int32_t>(current_cpu()));
}

}  // namespace

std::size_t debug_layout(std::size_t size, unsigned flags, DebugLayout* info) {
  *info = DebugLayout{};
  flags &= kDebugFlags;
  if (!flags) return size;
  info->flags = flags;
  info->obj_size = static_cast<std::uint32_t>((size + sizeof(void*) - 1) & ~(sizeof(void*) - 1));
  info->redzone = (flags & kDebugRedZone) ? static_cast<std::uint32_t>(kRedZoneBytes) : 0;
  return info->trailer_offset() + sizeof(DebugTrailer);
}

void debug_init_object(const DebugInfo& d, void* obj) {
  DebugTrailer* t = d.trailer(obj);
  fill(bytes(obj) + d.obj_size, d.redzone, kRedByte);
  *t = DebugTrailer{};
  t->requested = d.obj_size;
  // Without a constructor a new object is as good as a freed one: poisoned,
  // so a read of memory never written shows the pattern.
  if ((d.flags & kDebugPoison) && !d.ctor) {
    fill(bytes(obj), d.obj_size, kPoisonByte);
    t->state = kStateFreed;
  } else {
    t->state = kStateFresh;
  }
}

void debug_hand_out(const DebugInfo& d, void* obj, const char* api) {
  DebugTrailer* t = d.trailer(obj);
  const std::uint32_t state = load(t->state);
  if (state == kStateLive)
    fatal("%s: object %p of cache '%s' handed out twice (it is in use)", api, obj, d.name);
  if (state != kStateFreed && state != kStateFresh) report_state(d, obj, state, api);
  if (state == kStateFreed) {
    const std::size_t end = d.trailer_offset();
    std::size_t bad = end;
    if (d.flags & kDebugPoison) {
      const std::size_t b = first_not(bytes(obj), 0, d.obj_size, kPoisonByte);
      if (b < d.obj_size) bad = b;
    }
    if (bad == end && d.redzone) bad = first_not(bytes(obj), d.obj_size, end, kRedByte);
    if (bad < end) report_poison(d, obj, bad, api);
    // Constructed state was poisoned away: build it again, as the kernel's
    // debug mode does.
    if ((d.flags & kDebugPoison) && d.ctor) d.ctor(obj);
  }
  store(t->requested, d.obj_size);
  record(t->alloc_site, t->alloc_tid, t->alloc_cpu, debug_current_site());
  store(t->state, kStateLive);
}

void debug_set_requested(const DebugInfo& d, void* obj, std::size_t size) {
  DebugTrailer* t = d.trailer(obj);
  if (size > d.obj_size) size = d.obj_size;
  store(t->requested, static_cast<std::uint32_t>(size));
  if (d.redzone) fill(bytes(obj) + size, d.obj_size - size, kRedByte);
}

void debug_free(const DebugInfo& d, void* obj, const char* api) {
  DebugTrailer* t = d.trailer(obj);
  const std::uint32_t state = load(t->state);
  if (state == kStateFreed) {
    char buf[kReportBytes];
    BufWriter w(buf, sizeof buf);
    w.printf("numaslab: fatal: %s: double free of %p (cache '%s')\n", api, obj, d.name);
    put_who(w, "first freed", load(t->free_site), load(t->free_tid), load(t->free_cpu));
    put_who(w, "freed again", debug_current_site(), thread_id(), current_cpu());
    put_who(w, "allocated", load(t->alloc_site), load(t->alloc_tid), load(t->alloc_cpu));
    die(w);
  }
  if (state == kStateFresh) fatal("%s: %p was never handed out (cache '%s')", api, obj, d.name);
  if (state != kStateLive) report_state(d, obj, state, api);
  if (d.redzone) {
    const std::size_t end = d.trailer_offset();
    const std::size_t bad = first_not(bytes(obj), load(t->requested), end, kRedByte);
    if (bad < end) report_red_zone(d, obj, bad, api);
  }
  if (d.flags & kDebugPoison) fill(bytes(obj), d.obj_size, kPoisonByte);
  record(t->free_site, t->free_tid, t->free_cpu, debug_current_site());
  store(t->state, kStateFreed);
}

std::size_t debug_requested(const DebugInfo& d, const void* obj) {
  return load(d.trailer(const_cast<void*>(obj))->requested);
}

bool debug_live(const DebugInfo& d, const void* obj, void** site) {
  const DebugTrailer* t = d.trailer(const_cast<void*>(obj));
  *site = load(t->alloc_site);
  return load(t->state) == kStateLive;
}

bool debug_check_object(const DebugInfo& d, void* obj, BufWriter& out) {
  const DebugTrailer* t = d.trailer(obj);
  const std::uint32_t state = load(t->state);
  const std::size_t end = d.trailer_offset();
  if (state == kStateLive) {
    if (!d.redzone) return true;
    const std::size_t bad = first_not(bytes(obj), load(t->requested), end, kRedByte);
    if (bad == end) return true;
    out.printf("red zone of %p overwritten at offset %zu (allocated at ", obj, bad);
    put_site(out, load(t->alloc_site));
    out.put(')');
    return false;
  }
  if (state == kStateFreed) {
    std::size_t bad = end;
    if (d.flags & kDebugPoison) bad = first_not(bytes(obj), 0, d.obj_size, kPoisonByte);
    if (bad >= d.obj_size) bad = d.redzone ? first_not(bytes(obj), d.obj_size, end, kRedByte) : end;
    if (bad >= end) return true;
    out.printf("free object %p written at offset %zu (last freed at ", obj, bad);
    put_site(out, load(t->free_site));
    out.put(')');
    return false;
  }
  if (state == kStateFresh) return true;
  out.printf("debug trailer of %p corrupted (state 0x%08x)", obj, state);
  return false;
}

}  // namespace numaslab::detail
