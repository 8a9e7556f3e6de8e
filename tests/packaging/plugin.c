/* A plugin that uses numaslab through the shared library. Built twice
 * (PLUGIN_NAME a and b); the host frees in one what the other allocated. */
#include <errno.h>
#include <stddef.h>

#include "numaslab/numaslab.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(CAT(plugin_, PLUGIN_NAME), CAT(_, name))

void* FN(kmalloc)(size_t n) { return numaslab_kmalloc(n); }
void FN(kfree)(void* p) { numaslab_kfree(p); }

/* 0 if the cache was created here, else errno (EEXIST: another module made it). */
int FN(create)(const char* name, numaslab_cache** out) {
  *out = numaslab_cache_create(name, 96, 0, 0, NULL);
  return *out ? 0 : errno;
}
void* FN(cache_alloc)(numaslab_cache* c) { return numaslab_cache_alloc(c); }
void FN(cache_free)(numaslab_cache* c, void* p) { numaslab_cache_free(c, p); }
unsigned long long FN(active)(numaslab_cache* c) {
  struct numaslab_cache_stats s;
  return numaslab_cache_stats(c, &s) == 0 ? s.active_objs : ~0ull;
}
