// Call sites: which return address an operation records, and how one prints
// (slab_debug.h).
#include <dlfcn.h>

#include <cstdint>

#include "debug/slab_debug.h"

namespace numaslab::detail {

// True until start-up knows: the first allocation of a process may be the
// one that starts numaslab, and its site must be recorded before start-up
// finds NUMASLAB_DEBUG (bootstrap then sets it from the options).
bool g_debug_sites = true;

namespace {

__attribute__((tls_model("initial-exec"))) thread_local void* t_site = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local int t_pinned = 0;

const char* base_name(const char* path) {
  const char* b = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') b = p + 1;
  return b;
}

}  // namespace

void site_enter(void* ra) {
  if (t_pinned == 0) t_site = ra;
}

void* debug_current_site() { return t_site; }

void* SitePin::pin(void* site) {
  void* saved = t_site;
  t_site = site;
  ++t_pinned;
  return saved;
}

void SitePin::unpin(void* saved) {
  --t_pinned;
  t_site = saved;
}

void put_site(BufWriter& w, const void* site) {
  if (!site) {
    w.put("an unknown site");
    return;
  }
  w.put_ptr(site);
  Dl_info info{};
  // dladdr reads the loader's tables; it does not allocate.
  if (dladdr(site, &info) == 0 || !info.dli_fname) return;
  const auto a = reinterpret_cast<std::uintptr_t>(site);
  w.put(" (");
  if (info.dli_sname && info.dli_saddr) {
    w.printf("%s+0x%zx, ", info.dli_sname,
             static_cast<std::size_t>(a - reinterpret_cast<std::uintptr_t>(info.dli_saddr)));
  }
  w.printf("%s+0x%zx)", base_name(info.dli_fname),
           static_cast<std::size_t>(a - reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
}

}  // namespace numaslab::detail
