/* Two plugins that each link libnumaslab.so share one heap: memory one
 * allocates, the other frees; a cache name one takes is taken for the other.
 * Usage: shared_heap_host PLUGIN_A.so PLUGIN_B.so */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct numaslab_cache numaslab_cache;

static void* sym(void* h, const char* name) {
  void* p = dlsym(h, name);
  if (!p) {
    fprintf(stderr, "shared heap: FAIL: %s: %s\n", name, dlerror());
    exit(1);
  }
  return p;
}

#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) {                            \
      fprintf(stderr, "shared heap: FAIL: "); \
      fprintf(stderr, __VA_ARGS__);           \
      fprintf(stderr, "\n");                  \
      return 1;                               \
    }                                         \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PLUGIN_A.so PLUGIN_B.so\n", argv[0]);
    return 2;
  }
  void* a = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  void* b = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  CHECK(a && b, "dlopen: %s", dlerror());
  void* (*a_kmalloc)(size_t) = (void* (*)(size_t))sym(a, "plugin_a_kmalloc");
  void (*b_kfree)(void*) = (void (*)(void*))sym(b, "plugin_b_kfree");
  int (*a_create)(const char*, numaslab_cache**) =
      (int (*)(const char*, numaslab_cache**))sym(a, "plugin_a_create");
  int (*b_create)(const char*, numaslab_cache**) =
      (int (*)(const char*, numaslab_cache**))sym(b, "plugin_b_create");
  void* (*a_alloc)(numaslab_cache*) = (void* (*)(numaslab_cache*))sym(a, "plugin_a_cache_alloc");
  void (*b_free)(numaslab_cache*, void*) =
      (void (*)(numaslab_cache*, void*))sym(b, "plugin_b_cache_free");
  unsigned long long (*b_active)(numaslab_cache*) =
      (unsigned long long (*)(numaslab_cache*))sym(b, "plugin_b_active");

  /* kmalloc in one module, kfree in the other: with two heaps the free
   * aborts ("was never returned by numaslab"). */
  for (int i = 0; i < 1000; ++i) {
    char* p = a_kmalloc(100 + i);
    CHECK(p, "kmalloc failed");
    memset(p, 0x5a, 100 + i);
    b_kfree(p);
  }
  numaslab_cache *ca = NULL, *cb = NULL;
  CHECK(a_create("plugin_objects", &ca) == 0, "plugin a could not create its cache");
  int err = b_create("plugin_objects", &cb);
  CHECK(err == EEXIST, "plugin b created a second \"plugin_objects\" (errno %d): two registries",
        err);
  void* objs[10];
  for (int i = 0; i < 10; ++i) objs[i] = a_alloc(ca);
  unsigned long long seen = b_active(ca);
  CHECK(seen >= 10 && seen != ~0ull, "plugin b sees %llu active objects, not >= 10", seen);
  for (int i = 0; i < 10; ++i) b_free(ca, objs[i]);
  printf("shared heap: PASS\n");
  return 0;
}
