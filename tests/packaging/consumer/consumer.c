/* An outside C11 program using the installed numaslab: a cache, kmalloc, the
 * statistics API and the version. Prints "consumer: ok <version>". */
#include <numaslab/numaslab.h>
#include <stdio.h>
#include <string.h>

#if NUMASLAB_VERSION_NUMBER < 100
#error "NUMASLAB_VERSION_NUMBER is not defined as a number"
#endif

static int constructed;
static void ctor(void* obj) {
  memset(obj, 0, 40);
  ++constructed;
}

int main(void) {
  if (strcmp(numaslab_version(), NUMASLAB_VERSION) != 0) {
    fprintf(stderr, "consumer: header %s, library %s\n", NUMASLAB_VERSION, numaslab_version());
    return 1;
  }
  if (numaslab_init("sim:2x2") != 0) return 1;
  numaslab_cache* c = numaslab_cache_create("consumer_obj", 40, 0, 0, ctor);
  if (!c) return 1;
  void* objs[100];
  for (int i = 0; i < 100; ++i)
    if (!(objs[i] = numaslab_cache_alloc(c))) return 1;
  struct numaslab_cache_stats cs;
  if (numaslab_cache_stats(c, &cs) != 0 || cs.active_objs < 100 || cs.object_size != 40) {
    fprintf(stderr, "consumer: bad cache statistics\n");
    return 1;
  }
  for (int i = 0; i < 100; ++i) numaslab_cache_free(c, objs[i]);
  char* s = numaslab_kmalloc(1000);
  if (!s) return 1;
  strcpy(s, "kmalloc");
  struct numaslab_stats ps;
  if (numaslab_stats(&ps) != 0 || ps.caches < 2 || ps.nodes != 2 || ps.possible_cpus != 4) {
    fprintf(stderr, "consumer: bad process statistics\n");
    return 1;
  }
  numaslab_kfree(s);
  if (constructed == 0 || numaslab_cache_destroy(c) != 0) return 1;
  char report[4096];
  if (numaslab_verify(report, sizeof report) != 0) {
    fprintf(stderr, "consumer: %s\n", report);
    return 1;
  }
  printf("consumer: ok %s\n", numaslab_version());
  return 0;
}
