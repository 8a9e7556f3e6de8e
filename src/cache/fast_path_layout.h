/* numaslab — the layout the hand-written fast paths (fast_path_x86_64.S)
 * hard-code. Plain #defines, so the assembler can read them; the cache layer
 * checks every one against the C++ types (fast_path_layout.cc).
 *
 * Contract: if a type below changes, its static_assert fails the build. */
#ifndef NUMASLAB_FAST_PATH_LAYOUT_H
#define NUMASLAB_FAST_PATH_LAYOUT_H

/* Cache: the slot table starts this many bytes into the descriptor. */
#define NS_SLOTS_OFF 960
#define NS_SLOT_SHIFT 7 /* sizeof(CpuSlot) == 128 */

/* CpuSlot line 0. */
#define NS_SLOT_TOP 0
#define NS_SLOT_BASE 8
#define NS_SLOT_CAP 16
#define NS_SLOT_NODE 24 /* u16 node, u8 stopped, u8 zero: one 32-bit compare */
#define NS_SLOT_STOPPED 26
#define NS_SLOT_HITS 32

/* Segments and page descriptors. */
#define NS_SEGMENT_SHIFT 22
#define NS_SEGMENT_MASK (-0x400000)   /* ~(kSegmentSize - 1) */
#define NS_SEGMENT_MAP_LAST 0x1ffffff /* last index of ns_segment_map */
#define NS_PAGES_OFF 48               /* offsetof(SegmentHeader, pages) */
#define NS_DESC_SHIFT 7               /* (p >> 7) & mask == page index * 32 */
#define NS_DESC_MASK 0x7fe0
#define NS_DESC_KIND 0
#define NS_DESC_NODE 2
#define NS_DESC_OWNER 8
#define NS_KIND_SLAB 6

/* kmalloc: one table load from the size to the cache — indexed by the size
 * itself up to NS_KMALLOC_SMALL, by (size + 127) >> 7 up to NS_KMALLOC_MAX. */
#define NS_KMALLOC_SMALL 1024
#define NS_KMALLOC_MAX 32768
#define NS_KMALLOC_BIG_SHIFT 7

/* glibc's rseq area (struct rseq). */
#define NS_RSEQ_CPU_ID 4
#define NS_RSEQ_CS 8

#endif
