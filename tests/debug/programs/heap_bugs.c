/* Heap bugs on numaslab memory, one per mode, for the memory-checker tests:
 * valgrind memcheck, a program built with -fsanitize=address against the
 * release library, and the malloc replacement under NUMASLAB_DEBUG=all.
 *   heap_bugs uaf | overflow | leak | large-uaf | large-leak | malloc-overflow | clean */
#include <numaslab/numaslab.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static numaslab_cache* make_cache(void) {
  numaslab_cache* c = numaslab_cache_create("heap_bugs", 64, 0, 0, NULL);
  if (!c) {
    perror("numaslab_cache_create");
    exit(2);
  }
  return c;
}

__attribute__((noinline)) int read_after_free(void) {
  numaslab_cache* c = make_cache();
  volatile char* p = numaslab_cache_alloc(c);
  p[0] = 1;
  numaslab_cache_free(c, (void*)p);
  return p[8]; /* the bug */
}

__attribute__((noinline)) int write_past_object(void) {
  numaslab_cache* c = make_cache();
  volatile char* p = numaslab_cache_alloc(c); /* the slab's only object in use */
  p[64] = 1;                                  /* the bug: the next object is free */
  return 0;
}

__attribute__((noinline)) void leak_five(void) {
  for (int i = 0; i < 5; ++i) {
    volatile char* p = numaslab_kmalloc(200);
    p[0] = (char)i; /* and forgotten */
  }
}

/* Blocks above the largest size class: a page run and a mapping of its own. */
__attribute__((noinline)) int read_large_after_free(void) {
  volatile char* p = numaslab_kmalloc(100000);
  p[0] = 1;
  numaslab_kfree((void*)p);
  return p[50000]; /* the bug */
}

__attribute__((noinline)) void leak_large(void) {
  volatile char* run = numaslab_kmalloc(200000);
  volatile char* mapping = numaslab_kmalloc(3 << 20);
  run[0] = 1; /* and both forgotten */
  mapping[0] = 1;
}

__attribute__((noinline)) int malloc_overflow(void) {
  char* volatile p = malloc(100);
  memset(p, 'a', 100);
  p[100] = 'x'; /* the bug: one byte past the 100 asked for */
  free(p);
  return 0;
}

__attribute__((noinline)) int clean(void) {
  numaslab_cache* c = make_cache();
  void* held[256];
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 256; ++i) {
      held[i] = (i & 1) ? numaslab_cache_alloc(c) : numaslab_kmalloc((size_t)(8 + i * 13));
      memset(held[i], i, (i & 1) ? 64 : (size_t)(8 + i * 13));
    }
    for (int i = 0; i < 256; ++i) {
      if (i & 1)
        numaslab_cache_free(c, held[i]);
      else
        numaslab_kfree(held[i]);
    }
  }
  /* Large blocks: page runs and mappings of their own, written, zeroed, freed. */
  for (int round = 0; round < 4; ++round) {
    size_t n = 40000 + (size_t)round * 70000;
    char* p = numaslab_kmalloc(n);
    memset(p, round, n);
    char* q = numaslab_kmalloc((size_t)3 << 20);
    memcpy(q, p, n);
    if (q[n - 1] != (char)round) return 1;
    numaslab_kfree(p);
    numaslab_kfree(q);
    char* z = numaslab_kzalloc((size_t)3 << 20);
    char* y = numaslab_kzalloc(n);
    if (z[12345] != 0 || y[n - 1] != 0) return 1;
    numaslab_kfree(z);
    numaslab_kfree(y);
  }
  char report[4096];
  int errors = numaslab_verify(report, sizeof report);
  if (errors) fputs(report, stderr);
  return numaslab_cache_destroy(c) != 0 || errors != 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "uaf") == 0) return read_after_free() == 42;
  if (strcmp(mode, "overflow") == 0) return write_past_object();
  if (strcmp(mode, "leak") == 0) {
    leak_five();
    return 0;
  }
  if (strcmp(mode, "large-uaf") == 0) return read_large_after_free() == 42;
  if (strcmp(mode, "large-leak") == 0) {
    leak_large();
    return 0;
  }
  if (strcmp(mode, "malloc-overflow") == 0) return malloc_overflow();
  if (strcmp(mode, "clean") == 0) return clean();
  fprintf(stderr,
          "usage: heap_bugs uaf|overflow|leak|large-uaf|large-leak|malloc-overflow|clean\n");
  return 2;
}
