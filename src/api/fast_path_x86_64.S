/* numaslab — the fast paths of the C API entry points (x86-64).
 *
 * numaslab_cache_alloc, numaslab_cache_free, numaslab_kmalloc and
 * numaslab_kfree are written here by hand so that a hit costs only what it
 * must: one restartable sequence on the current CPU's slot (cpu/cpu_slots.h),
 * no lock, no atomic instruction, no call. Everything else — an empty or
 * full array, a remote operation in progress, a foreign or wrong-cache
 * pointer, an object of another node, NUMASLAB_CHECK=full, LockedSlots,
 * kmalloc before start-up, an aborted critical section — is a tail jump to
 * the C++ slow path with the arguments untouched (slow_path_entry.cc).
 *
 * Each critical section (CS) reads cpu_id inside the CS (a preemption or
 * migration before the commit aborts the CS), indexes the cache's slots with
 * it sign-extended — every cache has a slot for every CPU number the kernel
 * may report, and two zero guard slots below them where an unregistered
 * thread's -1 / -2 lands — checks the slot's `stopped` bits *before* it reads
 * the array (the free folds that into the node compare), and commits with one
 * read-modify-write of the slot's top. Only the documented rseq ABI is used:
 * rseq_cs is written, cpu_id is read.
 *
 * Layout constants: cache/fast_path_layout.h (checked against the C++ types).
 * Instruction counts of the hit paths, entry to return: bench/fast_path_count.sh. */
#include "cache/fast_path_layout.h"

#define RSEQ_SIG 0x53053053

/* rseq_cs descriptor and abort handler of one CS. */
#define CS_DESCRIPTOR(name, abort_target)                   \
        .pushsection __rseq_cs, "aw";                       \
        .balign 32;                                         \
name##_cs:                                                  \
        .long 0, 0;                                         \
        .quad name##_start, name##_post - name##_start, name##_abort; \
        .popsection;                                        \
        .pushsection __rseq_failure, "ax";                  \
        .byte 0x0f, 0xb9, 0x3d;                             \
        .long RSEQ_SIG;                                     \
name##_abort:                                               \
        jmp abort_target;                                   \
        .popsection

        .text

/* void *numaslab_cache_alloc(numaslab_cache *c) */
        .p2align 5
        .globl numaslab_cache_alloc
        .type numaslab_cache_alloc, @function
numaslab_cache_alloc:
        .cfi_startproc
        testq %rdi, %rdi
        jz ns_cache_alloc_slow                  /* NULL cache: diagnosed there */
        movq ns_rseq_offset(%rip), %r8
        leaq .Lca_cs(%rip), %rax
        movq %rax, %fs:NS_RSEQ_CS(%r8)
.Lca_start:
        movslq %fs:NS_RSEQ_CPU_ID(%r8), %rax
        shlq $NS_SLOT_SHIFT, %rax
        leaq NS_SLOTS_OFF(%rdi,%rax), %rdx      /* the CPU's slot */
        cmpb $0, NS_SLOT_STOPPED(%rdx)
        jne ns_cache_alloc_slow                 /* remote stop, or fast paths off */
        movq NS_SLOT_TOP(%rdx), %rcx
        cmpq NS_SLOT_BASE(%rdx), %rcx
        jbe ns_cache_alloc_slow                 /* empty, or no array */
        movq -8(%rcx), %rax                     /* the hottest object */
        addq $1, NS_SLOT_HITS(%rdx)
        subq $8, NS_SLOT_TOP(%rdx)              /* commit */
.Lca_post:
        ret
        .cfi_endproc
        .size numaslab_cache_alloc, .-numaslab_cache_alloc
        CS_DESCRIPTOR(.Lca, ns_cache_alloc_abort)

/* void numaslab_cache_free(numaslab_cache *c, void *obj) */
        .p2align 5
        .globl numaslab_cache_free
        .type numaslab_cache_free, @function
numaslab_cache_free:
        .cfi_startproc
        movq %rsi, %rax
        shrq $NS_SEGMENT_SHIFT, %rax
        cmpq $NS_SEGMENT_MAP_LAST, %rax
        ja ns_cache_free_slow                   /* beyond the user address space */
        leaq ns_segment_map(%rip), %rdx
        cmpb $0, (%rdx,%rax)
        je ns_cache_free_slow                   /* not in a segment of ours (or NULL) */
        movq %rsi, %rdx
        andq $NS_SEGMENT_MASK, %rdx             /* segment header */
        movq %rsi, %rax
        shrq $NS_DESC_SHIFT, %rax
        andl $NS_DESC_MASK, %eax                /* page index * sizeof(PageDesc) */
        cmpq %rdi, NS_PAGES_OFF+NS_DESC_OWNER(%rdx,%rax)
        jne ns_cache_free_slow                  /* not a slab page of this cache */
        movzwl NS_PAGES_OFF+NS_DESC_NODE(%rdx,%rax), %ecx  /* home node */
        movq ns_rseq_offset(%rip), %r8
        leaq .Lcf_cs(%rip), %rax
        movq %rax, %fs:NS_RSEQ_CS(%r8)
.Lcf_start:
        movslq %fs:NS_RSEQ_CPU_ID(%r8), %rax
        shlq $NS_SLOT_SHIFT, %rax
        leaq NS_SLOTS_OFF(%rdi,%rax), %rdx
        cmpl %ecx, NS_SLOT_NODE(%rdx)
        jne ns_cache_free_slow                  /* another node (alien), or stopped */
        movq NS_SLOT_TOP(%rdx), %rax
        cmpq NS_SLOT_CAP(%rdx), %rax
        jae ns_cache_free_slow                  /* full, or no array */
        movq %rsi, (%rax)
        addq $8, NS_SLOT_TOP(%rdx)              /* commit */
.Lcf_post:
        ret
        .cfi_endproc
        .size numaslab_cache_free, .-numaslab_cache_free
        CS_DESCRIPTOR(.Lcf, ns_cache_free_abort)

/* void *numaslab_kmalloc(size_t size) */
        .p2align 5
        .globl numaslab_kmalloc
        .type numaslab_kmalloc, @function
numaslab_kmalloc:
        .cfi_startproc
        cmpq $NS_KMALLOC_SMALL, %rdi
        ja .Lkm_big
        leaq ns_kmalloc_small(%rip), %rdx
        movq (%rdx,%rdi,8), %rsi                /* the size's cache */
.Lkm_cache:
        /* glibc's offset itself: this entry may run before start-up. */
        movq __rseq_offset@GOTPCREL(%rip), %r8
        movq (%r8), %r8
        leaq .Lkm_cs(%rip), %rax
        movq %rax, %fs:NS_RSEQ_CS(%r8)
.Lkm_start:
        movslq %fs:NS_RSEQ_CPU_ID(%r8), %rax
        shlq $NS_SLOT_SHIFT, %rax
        leaq NS_SLOTS_OFF(%rsi,%rax), %rdx
        cmpb $0, NS_SLOT_STOPPED(%rdx)
        jne ns_kmalloc_slow
        movq NS_SLOT_TOP(%rdx), %rcx
        cmpq NS_SLOT_BASE(%rdx), %rcx
        jbe ns_kmalloc_slow
        movq -8(%rcx), %rax
        addq $1, NS_SLOT_HITS(%rdx)
        subq $8, NS_SLOT_TOP(%rdx)              /* commit */
.Lkm_post:
        ret
.Lkm_big:
        cmpq $NS_KMALLOC_MAX, %rdi
        ja ns_kmalloc_slow                      /* page runs and mappings */
        leal 127(%rdi), %eax
        shrl $NS_KMALLOC_BIG_SHIFT, %eax
        leaq ns_kmalloc_big(%rip), %rdx
        movq (%rdx,%rax,8), %rsi
        jmp .Lkm_cache
        .cfi_endproc
        .size numaslab_kmalloc, .-numaslab_kmalloc
        CS_DESCRIPTOR(.Lkm, ns_kmalloc_abort)

/* void numaslab_kfree(void *obj) */
        .p2align 5
        .globl numaslab_kfree
        .type numaslab_kfree, @function
numaslab_kfree:
        .cfi_startproc
        movq %rdi, %rax
        shrq $NS_SEGMENT_SHIFT, %rax
        cmpq $NS_SEGMENT_MAP_LAST, %rax
        ja ns_kfree_slow
        leaq ns_segment_map(%rip), %rdx
        cmpb $0, (%rdx,%rax)
        je ns_kfree_slow
        movq %rdi, %rdx
        andq $NS_SEGMENT_MASK, %rdx
        movq %rdi, %rax
        shrq $NS_DESC_SHIFT, %rax
        andl $NS_DESC_MASK, %eax
        cmpb $NS_KIND_SLAB, NS_PAGES_OFF+NS_DESC_KIND(%rdx,%rax)
        jne ns_kfree_slow                       /* large block, or not allocated */
        movq NS_PAGES_OFF+NS_DESC_OWNER(%rdx,%rax), %rsi   /* the object's cache */
        movzwl NS_PAGES_OFF+NS_DESC_NODE(%rdx,%rax), %ecx
        movq ns_rseq_offset(%rip), %r8
        leaq .Lkf_cs(%rip), %rax
        movq %rax, %fs:NS_RSEQ_CS(%r8)
.Lkf_start:
        movslq %fs:NS_RSEQ_CPU_ID(%r8), %rax
        shlq $NS_SLOT_SHIFT, %rax
        leaq NS_SLOTS_OFF(%rsi,%rax), %rdx
        cmpl %ecx, NS_SLOT_NODE(%rdx)
        jne ns_kfree_slow
        movq NS_SLOT_TOP(%rdx), %rax
        cmpq NS_SLOT_CAP(%rdx), %rax
        jae ns_kfree_slow
        movq %rdi, (%rax)
        addq $8, NS_SLOT_TOP(%rdx)              /* commit */
.Lkf_post:
        ret
        .cfi_endproc
        .size numaslab_kfree, .-numaslab_kfree
        CS_DESCRIPTOR(.Lkf, ns_kfree_abort)

        .section .note.GNU-stack, "", @progbits
