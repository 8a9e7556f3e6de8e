/* numaslab — the layout the hand-written fast paths (fast_path_x86_64.S)
 * hard-code. Plain #defines, so the assembler can read them; the cache layer
 * checks every one against the C++ types (fast_path_layout.cc).
 *
 * Contract: if a type below changes, its static_assert fails the build. */
#ifndef NUMASLAB_FAST_PATH_LAYOUT_H
#define NUMASLAB_FAST_PATH_LAYOUT_H

/* Cache: the slot table starts this many bytes into the descriptor. */
#define NS_SLOTS_OFF 704
#define NS_SLOT_SHIFT 7 /* sizeof(CpuSlot) == 128 */

/* CpuSlot line 0. */
#define NS_SLOT_TOP 0
#define NS_SLOT_BEGIN 8
#define NS_SLOT_END 16
#define NS_SLOT_NODE 24
#define NS_SLOT_HITS 32

/* Segments and page descriptors. */
#define NS_SEGMENT_SHIFT 22
#define NS_SEGMENT_MASK (-0x400000)     /* ~(kSegmentSize - 1) */
#define NS_SEGMENT_MAP_LAST 0x1ffffff   /* last index of ns_segment_map */
#define NS_PAGES_OFF 48                 /* offsetof(SegmentHeader, pages) */
#define NS_DESC_SHIFT 7                 /* (p >> 7) & mask == page index * 32 */
#define NS_DESC_MASK 0x7fe0
#define NS_DESC_KIND 0
#define NS_DESC_NODE 2
#define NS_DESC_OWNER 8
#define NS_KIND_SLAB 6

/* kmalloc: one table load from (size + 7) >> 3 to the cache. */
#define NS_KMALLOC_MAX 32768
#define NS_KMALLOC_SHIFT 3

/* glibc's rseq area (struct rseq). */
#define NS_RSEQ_CPU_ID_START 0
#define NS_RSEQ_CS 8

#endif
