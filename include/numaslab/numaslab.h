/* numaslab — a NUMA-aware slab allocator for Linux (C API).
 *
 * Object caches (kmem_cache), kmalloc-style allocation over size classes,
 * node-local allocation, CPU hotplug events, verification.
 *
 * Initialisation is optional: the first call initialises from the
 * NUMASLAB_TOPOLOGY environment variable ("real" when unset). Every function
 * is thread-safe.
 *
 * Errors: functions returning int return 0 or a negative errno value;
 * allocation functions return NULL and set errno (ENOMEM, EINVAL). Heap
 * corruption by the caller — freeing a pointer numaslab never returned, an
 * interior pointer, a double free, a free to the wrong cache — prints one line
 * naming the problem, the pointer and the cache, then aborts.
 */
#ifndef NUMASLAB_NUMASLAB_H
#define NUMASLAB_NUMASLAB_H

#include <stddef.h>

/* The version of these headers; numaslab_version() gives the library's.
 * NUMASLAB_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH, for #if. */
#define NUMASLAB_VERSION_MAJOR 0
#define NUMASLAB_VERSION_MINOR 1
#define NUMASLAB_VERSION_PATCH 0
#define NUMASLAB_VERSION "0.1.0"
#define NUMASLAB_VERSION_NUMBER \
  (NUMASLAB_VERSION_MAJOR * 10000 + NUMASLAB_VERSION_MINOR * 100 + NUMASLAB_VERSION_PATCH)

/* Marks the exported API: the shared library exports these and nothing else. */
#if defined(__GNUC__)
#define NUMASLAB_API __attribute__((visibility("default")))
#else
#define NUMASLAB_API
#endif

/* The kmalloc family never throws (as glibc's malloc and free): a C++ caller
 * needs no unwind path around them, and operator delete is a jump to
 * numaslab_kfree. */
#if defined(__GNUC__)
#define NUMASLAB_NOTHROW __attribute__((nothrow))
#else
#define NUMASLAB_NOTHROW
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* "MAJOR.MINOR.PATCH" of the library actually linked or loaded. */
NUMASLAB_API const char* numaslab_version(void);

typedef struct numaslab_cache numaslab_cache;

/* Cache creation flags. */
#define NUMASLAB_HWCACHE_ALIGN 0x2000u    /* align objects to cache lines */
#define NUMASLAB_RECLAIM_ACCOUNT 0x20000u /* smallest slab order that fits */
/* Debugging (the kernel's SLAB_RED_ZONE, SLAB_POISON, SLAB_STORE_USER; also
 * for every cache with NUMASLAB_DEBUG=redzone,poison,user,leaks or all). A
 * debug cache never takes the fast paths; its objects get a trailer with
 * their requested size, allocating and freeing call site, thread and CPU.
 * Misuse is fatal with a report naming the cache, the object, the offset and
 * the call sites (README: Debugging). */
#define NUMASLAB_RED_ZONE 0x400u     /* guard bytes after each object, checked at free */
#define NUMASLAB_POISON 0x800u       /* free objects filled with 0x6b, checked at hand-out */
#define NUMASLAB_STORE_USER 0x10000u /* call sites of the last alloc and free */

/* Topology: "real", "sim:NxM" (N nodes x M virtual CPUs) or "map:C=N,..."
 * (real CPUs with the given CPU->node map). NULL or "" reads
 * NUMASLAB_TOPOLOGY, else "real" — or, once initialised, accepts whatever is
 * running. Returns 0, -EINVAL for a bad spec (a reason is printed), -EBUSY if
 * already initialised with a different topology. */
NUMASLAB_API int numaslab_init(const char* topology);

/* name: 1..47 printable ASCII characters without spaces, quotes or
 * backslashes (it appears in slabinfo), unique. size: 1 .. 128 KiB. align: 0
 * or a power of two up to 4096. NULL with errno EINVAL, EEXIST or ENOMEM. */
NUMASLAB_API numaslab_cache* numaslab_cache_create(const char* name, size_t size, size_t align,
                                                   unsigned flags, void (*ctor)(void* obj));
/* 0, or -EBUSY (objects still in use; the cache stays usable); -EINVAL for
 * NULL. A destroyed cache's handle is dead: using it (alloc, free, shrink,
 * destroy again) prints "cache '<name>' was destroyed" and aborts, for at
 * least the next 64 destroys; later it is reported as "not a cache". */
NUMASLAB_API int numaslab_cache_destroy(numaslab_cache* c);
NUMASLAB_API void* numaslab_cache_alloc(numaslab_cache* c);
NUMASLAB_API void* numaslab_cache_alloc_node(numaslab_cache* c, int node);
NUMASLAB_API void numaslab_cache_free(numaslab_cache* c, void* obj);
/* Drains the cache's arrays and releases its free slabs; 0 if no slab is
 * left, 1 if objects are still in use. */
NUMASLAB_API int numaslab_cache_shrink(numaslab_cache* c);
NUMASLAB_API const char* numaslab_cache_name(const numaslab_cache* c);
NUMASLAB_API size_t numaslab_cache_object_size(const numaslab_cache* c);

NUMASLAB_API NUMASLAB_NOTHROW void* numaslab_kmalloc(size_t size);
NUMASLAB_API NUMASLAB_NOTHROW void* numaslab_kmalloc_node(size_t size, int node);
/* An align-aligned block (align a power of two, at most 2 MiB) from the
 * smallest size class whose objects have that alignment, else a page run or
 * mapping; node -1: the current node. NULL with EINVAL (align not a power of
 * two, unknown node) or ENOMEM (too large an alignment, out of memory). */
NUMASLAB_API NUMASLAB_NOTHROW void* numaslab_kmalloc_aligned(size_t size, size_t align, int node);
NUMASLAB_API NUMASLAB_NOTHROW void* numaslab_kzalloc(size_t size);
NUMASLAB_API NUMASLAB_NOTHROW void numaslab_kfree(void* p);
NUMASLAB_API NUMASLAB_NOTHROW size_t numaslab_ksize(const void* p);

NUMASLAB_API int numaslab_num_nodes(void);
NUMASLAB_API int numaslab_num_possible_cpus(void);
NUMASLAB_API int numaslab_cpu_to_node(int cpu); /* -EINVAL for an unknown CPU */
NUMASLAB_API int numaslab_cpu_online(int cpu);  /* 1, 0, or -EINVAL */
NUMASLAB_API int numaslab_current_cpu(void);
NUMASLAB_API int numaslab_current_node(void);
NUMASLAB_API int numaslab_node_of(
    const void* obj); /* home node of an object, -EINVAL if not ours */
/* sim mode: run the calling thread on virtual CPU `cpu`. 0, -EINVAL, -ENODEV. */
NUMASLAB_API int numaslab_bind_thread_to_cpu(int cpu);
/* Name of the active topology mode: "real", "sim" or "map". */
NUMASLAB_API const char* numaslab_topology_mode(void);
/* How threads reach their CPU's array caches: "rseq" (restartable sequences,
 * real/map modes on x86-64 when glibc registered rseq) or "locked". */
NUMASLAB_API const char* numaslab_slots_policy(void);

/* CPU hotplug. up: UP_PREPARE then ONLINE (UP_CANCELED on failure);
 * down: the CPU stops being used, then DEAD. 0, -EINVAL (unknown CPU),
 * -EALREADY (already in that state), -EBUSY (last online CPU), -ENOMEM. */
NUMASLAB_API int numaslab_cpu_up(int cpu);
NUMASLAB_API int numaslab_cpu_down(int cpu);

/* Counters of hotplug events since start-up. */
struct numaslab_hotplug_stats {
  unsigned long long ups;
  unsigned long long downs;
  unsigned long long canceled;               /* UP_PREPARE failures (UP_CANCELED) */
  unsigned long long last_cpu_of_node_downs; /* downs that left a node without CPUs */
  unsigned long long sim_migrations;         /* sim-mode threads moved off a downed CPU */
};
NUMASLAB_API void numaslab_get_hotplug_stats(struct numaslab_hotplug_stats* out); /* NULL: no-op */

/* Bytes of memory numaslab holds on a node (slab pages and large blocks in
 * use, excluding free pages it keeps mapped). 0 for an unknown node. */
NUMASLAB_API size_t numaslab_node_bytes(int node);

/* real/map modes: looks once for CPUs that went offline/online or left/joined
 * the process's allowed set and turns them into numaslab_cpu_down/up events.
 * Returns the number of events. (A background watcher does this every
 * NUMASLAB_WATCH_MS milliseconds, default 100, unless NUMASLAB_WATCH_MS=0.) */
NUMASLAB_API int numaslab_watch_poll(void);

/* /proc/slabinfo, version 2.1 with statistics, one line per cache. Returns
 * the length of the full text (as snprintf); writes at most len bytes
 * (nothing when buf is NULL, whatever len says). */
NUMASLAB_API size_t numaslab_slabinfo(char* buf, size_t len);

/* Tuning, as a write to /proc/slabinfo: the per-CPU array limit, the batch
 * moved per refill/flush, and the shared array factor (shared array =
 * shared * batchcount entries). 0, -EINVAL (bad values: nothing changed),
 * -ENOENT (no such cache), -ENOMEM. */
NUMASLAB_API int numaslab_tune(const char* cache_name, long limit, long batchcount, long shared);
/* The same from a text line "name limit batchcount shared". */
NUMASLAB_API int numaslab_slabinfo_write(const char* line);

/* Runs a full reap now: drains every array cache, destroys free slabs and
 * returns free memory to the OS. Returns the bytes given back. */
NUMASLAB_API size_t numaslab_reap(void);

/* The slabinfo data as JSON, with per-node and per-CPU detail. Returns the
 * full length (as snprintf); buf NULL: nothing written. */
NUMASLAB_API size_t numaslab_slabinfo_json(char* buf, size_t len);

/* Live statistics for numaslab-top: publishes to /dev/shm/numaslab.<pid>,
 * refreshed by the reaper (NUMASLAB_PUBLISH=1 does this at start-up).
 * 0 or -errno. */
NUMASLAB_API int numaslab_publish(int on);

/* Writes to fd the objects of debug caches still in use (allocated and not
 * freed), grouped by allocation site, largest byte count first, and returns
 * how many there are. With NUMASLAB_DEBUG=...leaks the same report is
 * written to stderr at exit when there is something to report. */
NUMASLAB_API int numaslab_leak_report(int fd);

/* Checks every invariant; writes a report into buf. 0 when all hold, else
 * the number of violations. Call at a quiescent point. */
NUMASLAB_API int numaslab_verify(char* buf, size_t len);

/* Statistics from code: the counters numaslab-slabinfo shows, without parsing
 * text (the numbers of numaslab_slabinfo(), summed over nodes and CPUs). */
struct numaslab_cache_stats {
  size_t object_size; /* as requested at creation */
  size_t buffer_size; /* object stride in a slab (slabinfo <objsize>) */
  unsigned objects_per_slab;
  unsigned pages_per_slab;
  unsigned limit;                  /* per-CPU array limit */
  unsigned batchcount;             /* objects moved per refill or flush */
  unsigned shared;                 /* shared array factor */
  unsigned long long active_objs;  /* allocated, or sitting in a CPU/shared/alien array */
  unsigned long long num_objs;     /* objects in all slabs */
  unsigned long long active_slabs; /* slabs with at least one active object */
  unsigned long long num_slabs;
  unsigned long long slab_bytes;   /* num_slabs * pages_per_slab * page size */
  unsigned long long shared_avail; /* objects in the shared arrays */
  unsigned long long list_allocs;  /* allocations served from the node lists */
  unsigned long long max_objs;     /* high mark of active objects */
  unsigned long long grown;        /* slabs created */
  unsigned long long reaped;       /* slabs destroyed by the reaper or shrink */
  unsigned long long errors;       /* always 0: slab corruption is fatal instead */
  unsigned long long max_freeable;
  unsigned long long node_allocs;    /* alloc_node calls for another node */
  unsigned long long node_fallbacks; /* alloc_node served from another node */
  unsigned long long remote_frees;   /* frees of objects from another node */
  unsigned long long alien_overflows;
  unsigned long long alloc_hit, alloc_miss; /* per-CPU array hits and misses */
  unsigned long long free_hit, free_miss;
};
/* 0, or -EINVAL (NULL cache or NULL out). */
NUMASLAB_API int numaslab_cache_stats(const numaslab_cache* c, struct numaslab_cache_stats* out);

/* Process totals over every cache, the page allocator and the reaper. */
struct numaslab_stats {
  unsigned long long caches;
  unsigned long long active_objs, num_objs;
  unsigned long long active_slabs, num_slabs;
  unsigned long long slab_bytes;   /* bytes of all slabs */
  unsigned long long bytes_in_use; /* pages in use + large blocks, all nodes */
  unsigned long long bytes_free;   /* free pages kept mapped, all nodes */
  unsigned long long segments;     /* segments mapped, all nodes */
  unsigned long long alloc_hit, alloc_miss, free_hit, free_miss;
  unsigned long long remote_frees;
  unsigned long long reaper_visits;
  unsigned long long reaper_slabs_destroyed;
  unsigned long long reaper_bytes_released;
  int nodes;
  int possible_cpus;
  int online_cpus;
};
/* 0, or -EINVAL (NULL out). */
NUMASLAB_API int numaslab_stats(struct numaslab_stats* out);

#ifdef __cplusplus
}
#endif

#endif /* NUMASLAB_NUMASLAB_H */
