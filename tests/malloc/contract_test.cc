// The malloc replacement keeps glibc's contract at every entry point: this
// program is linked against libnumaslab-malloc.so, so its malloc, free and
// operator new are numaslab's (the first test proves it), and every test
// calls the real entry points the way a program would.
//
// Sizes are passed through opaque() so the compiler cannot fold or warn about
// an impossible request, and pointers through escape() so it cannot drop an
// allocation it sees freed unused, nor follow one it sees freed.
#include <dlfcn.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "numaslab/numaslab.h"

namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;
constexpr std::size_t kHugeThreshold = 2 * kMiB;  // larger blocks are mappings of their own

std::size_t opaque(std::size_t v) {
  asm volatile("" : "+r"(v));
  return v;
}

void* escape(void* p) {
  asm volatile("" : "+r"(p) : : "memory");
  return p;
}

bool aligned_to(const void* p, std::size_t a) {
  return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

// glibc's promise, as the issue states it: 16 bytes for 16 or more, else 8.
std::size_t fundamental_alignment(std::size_t size) { return size >= 16 ? 16 : 8; }

std::uint8_t pattern(std::size_t i) {
  return static_cast<std::uint8_t>((i ^ (i >> 9) ^ (i >> 17)) * 37 + 11);
}
void fill(void* p, std::size_t from, std::size_t to) {
  auto* b = static_cast<std::uint8_t*>(p);
  for (std::size_t i = from; i < to; ++i) b[i] = pattern(i);
}
// The first index in [0, n) that does not hold the pattern, or n.
std::size_t first_mismatch(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != pattern(i)) return i;
  return n;
}
bool all_zero(const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

void expect_heap_consistent() {
  char report[4096];
  EXPECT_EQ(numaslab_verify(report, sizeof report), 0) << report;
}

// Every kmalloc class size, a size just above each, and page runs and huge
// blocks on both sides of the 2 MiB border.
std::vector<std::size_t> transition_sizes() {
  std::vector<std::size_t> sizes = {1, 7, 8, 9, 15, 16, 17};
  for (std::size_t s :
       {32,   48,   64,   80,   96,   112,   128,   160,   192,   224,   256,   320,   384,
        448,  512,  640,  768,  896,  1024,  1280,  1536,  1792,  2048,  2560,  3072,  3584,
        4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768}) {
    sizes.push_back(s);
    sizes.push_back(s + 1);
  }
  for (std::size_t s : {48 * kKiB, 64 * kKiB, 100 * kKiB, kMiB, kHugeThreshold - 1, kHugeThreshold,
                        kHugeThreshold + 1, 3 * kMiB, 8 * kMiB + 123, 24 * kMiB})
    sizes.push_back(s);
  return sizes;
}

// ---- this process runs on the shim ----

TEST(MallocContractTest, MallocAndNewAreTheShims) {
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&malloc), &info), 0);
  EXPECT_NE(std::string(info.dli_fname).find("libnumaslab-malloc"), std::string::npos)
      << info.dli_fname;
  void* (*plain_new)(std::size_t) = &::operator new;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(plain_new), &info), 0);
  EXPECT_NE(std::string(info.dli_fname).find("libnumaslab-malloc"), std::string::npos)
      << info.dli_fname;
  // A foreign pointer would be fatal: numaslab knows malloc's and new's blocks.
  void* p = std::malloc(opaque(24));
  EXPECT_EQ(numaslab_ksize(p), malloc_usable_size(p));
  EXPECT_GE(numaslab_ksize(p), 24u);
  std::free(p);
  auto* s = new std::string(100, 'x');
  EXPECT_GE(numaslab_ksize(s), sizeof(std::string));
  delete s;
}

// ---- malloc ----

TEST(MallocContractTest, AlignmentAtEverySizeUpToAPage) {
  std::vector<void*> blocks;
  for (std::size_t size = 0; size <= 4096; ++size) {
    void* p = std::malloc(opaque(size));
    ASSERT_NE(p, nullptr) << size;
    ASSERT_TRUE(aligned_to(p, fundamental_alignment(size))) << size << " " << p;
    ASSERT_GE(malloc_usable_size(p), size);
    std::memset(p, 0x5a, size);
    blocks.push_back(p);
  }
  for (void* p : blocks) std::free(p);
  expect_heap_consistent();
}

TEST(MallocContractTest, AlignmentOfPowersOfTwoUpTo64MiB) {
  for (std::size_t size = 1; size <= 64 * kMiB; size <<= 1) {
    for (std::size_t s : {size - 1, size, size + 1}) {
      void* p = std::malloc(opaque(s));
      ASSERT_NE(p, nullptr) << s;
      EXPECT_TRUE(aligned_to(p, fundamental_alignment(s))) << s << " " << p;
      EXPECT_GE(malloc_usable_size(p), s);
      if (s > 0) {
        static_cast<char*>(p)[0] = 1;
        static_cast<char*>(p)[s - 1] = 2;
      }
      std::free(p);
    }
  }
}

TEST(MallocContractTest, MallocZeroGivesUniquePointers) {
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) {
    void* p = std::malloc(opaque(0));
    ASSERT_NE(p, nullptr);
    blocks.push_back(p);
  }
  std::vector<void*> sorted = blocks;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  for (void* p : blocks) std::free(p);
  std::free(nullptr);  // a no-op
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
}

TEST(MallocContractTest, UsableSizeCoversTheRequest) {
  for (std::size_t s : transition_sizes()) {
    void* p = std::malloc(opaque(s));
    ASSERT_NE(p, nullptr);
    const std::size_t usable = malloc_usable_size(p);
    EXPECT_GE(usable, s);
    std::memset(p, 0xa5, usable);  // all of it is the caller's
    std::free(p);
  }
  expect_heap_consistent();
}

TEST(MallocContractTest, SuccessfulCallsLeaveErrnoAlone) {
  // Programs read errno after a failed call that allocates on its way; glibc's
  // free keeps errno (POSIX requires it), and a successful call does not set it.
  for (std::size_t s : transition_sizes()) {
    errno = 1234;
    void* p = std::malloc(opaque(s));
    void* q = std::calloc(1, opaque(s));
    void* r = aligned_alloc(4096, opaque(s));
    p = std::realloc(p, opaque(2 * s + 1));
    ASSERT_TRUE(p && q && r);
    std::free(p);
    std::free(q);
    std::free(r);
    EXPECT_EQ(errno, 1234) << s;
  }
}

// ---- overflow and impossible sizes: NULL with ENOMEM ----

void expect_enomem(void* p, const char* what) {
  EXPECT_EQ(p, nullptr) << what;
  EXPECT_EQ(errno, ENOMEM) << what;
  std::free(p);
}

TEST(MallocContractTest, OverflowAndAbsurdSizesFailWithEnomem) {
  const std::size_t max = opaque(SIZE_MAX);
  const std::size_t half = opaque(SIZE_MAX / 2 + 1);
  errno = 0;
  expect_enomem(std::malloc(max), "malloc(SIZE_MAX)");
  errno = 0;
  expect_enomem(std::malloc(max - 4096), "malloc(SIZE_MAX - 4096)");
  errno = 0;
  expect_enomem(std::malloc(opaque(std::size_t{1} << 41)), "malloc(2 TiB)");
  errno = 0;
  expect_enomem(std::calloc(half, 2), "calloc overflow");
  errno = 0;
  expect_enomem(std::calloc(opaque(std::size_t{1} << 33), std::size_t{1} << 33), "calloc 2^66");
  errno = 0;
  expect_enomem(std::calloc(max, max), "calloc(SIZE_MAX, SIZE_MAX)");
  errno = 0;
  expect_enomem(reallocarray(nullptr, half, 2), "reallocarray(NULL) overflow");
  errno = 0;
  expect_enomem(pvalloc(max), "pvalloc(SIZE_MAX)");
  errno = 0;
  expect_enomem(pvalloc(max - 100), "pvalloc(SIZE_MAX - 100)");
  errno = 0;
  expect_enomem(std::realloc(nullptr, max), "realloc(NULL, SIZE_MAX)");
  errno = 0;
  expect_enomem(aligned_alloc(64, max), "aligned_alloc(64, SIZE_MAX)");
  errno = 0;
  expect_enomem(memalign(4096, max - 10), "memalign(4096, SIZE_MAX - 10)");
  errno = 0;
  expect_enomem(valloc(max), "valloc(SIZE_MAX)");
  void* p = &p;
  EXPECT_EQ(posix_memalign(&p, 64, max), ENOMEM);
  EXPECT_EQ(p, &p);  // untouched
}

TEST(MallocContractTest, FailedReallocLeavesTheBlockIntact) {
  for (std::size_t size : {std::size_t{100}, 100 * kKiB, 3 * kMiB}) {
    void* p = std::malloc(size);
    ASSERT_NE(p, nullptr);
    fill(p, 0, size);
    errno = 0;
    EXPECT_EQ(std::realloc(escape(p), opaque(SIZE_MAX)), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(reallocarray(escape(p), opaque(SIZE_MAX / 2 + 1), 2), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(first_mismatch(p, size), size);
    std::free(p);
  }
  expect_heap_consistent();
}

// ---- calloc ----

TEST(MallocContractTest, CallocZeroesEverySize) {
  for (std::size_t s : transition_sizes()) {
    void* p = std::calloc(1, opaque(s));
    ASSERT_NE(p, nullptr) << s;
    EXPECT_TRUE(all_zero(p, s)) << s;
    std::free(p);
  }
  void* p = std::calloc(opaque(1000), 24);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(all_zero(p, 24000));
  std::free(p);
}

TEST(MallocContractTest, CallocZeroesAReusedDirtyBlock) {
  for (std::size_t s : transition_sizes()) {
    // Dirty a few blocks of the size, free them, and calloc the same size:
    // the per-CPU array hands the most recently freed one back.
    void* dirty[4];
    for (void*& d : dirty) {
      d = std::malloc(opaque(s));
      ASSERT_NE(d, nullptr);
      std::memset(d, 0xff, malloc_usable_size(d));
    }
    for (void* d : dirty) std::free(d);
    void* p = std::calloc(opaque(s), 1);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(all_zero(p, s)) << s;
    std::free(p);
  }
}

// ---- realloc ----

// Reallocates one block through the sizes of path in turn: each step keeps
// the pattern up to the smaller size, and the new tail is filled.
void realloc_along(const std::vector<std::size_t>& path) {
  std::size_t have = path.front();
  void* p = std::malloc(have);
  ASSERT_NE(p, nullptr);
  fill(p, 0, have);
  for (std::size_t i = 1; i < path.size(); ++i) {
    const std::size_t want = path[i];
    void* q = std::realloc(p, opaque(want));
    ASSERT_NE(q, nullptr) << have << " -> " << want;
    // Blocks above the largest class (32 KiB) are page runs or mappings.
    ASSERT_TRUE(aligned_to(q, want > 32 * kKiB ? 4096 : fundamental_alignment(want))) << want;
    ASSERT_GE(malloc_usable_size(q), want);
    const std::size_t kept = have < want ? have : want;
    ASSERT_EQ(first_mismatch(q, kept), kept) << have << " -> " << want;
    if (want > have) fill(q, have, want);
    p = q;
    have = want;
  }
  std::free(p);
}

TEST(MallocContractTest, ReallocKeepsContentsAcrossEveryTransition) {
  std::vector<std::size_t> sizes = transition_sizes();
  std::vector<std::size_t> path = sizes;  // up through every class, then down again
  path.insert(path.end(), sizes.rbegin() + 1, sizes.rend());
  ASSERT_NO_FATAL_FAILURE(realloc_along(path));
  expect_heap_consistent();
}

TEST(MallocContractTest, ReallocJumpsBetweenSmallAndHuge) {
  for (std::size_t small : {std::size_t{8}, std::size_t{200}, 40 * kKiB}) {
    void* p = std::malloc(small);
    fill(p, 0, small);
    void* q = std::realloc(p, 10 * kMiB);
    ASSERT_NE(q, nullptr);
    ASSERT_EQ(first_mismatch(q, small), small);
    fill(q, small, 10 * kMiB);
    void* r = std::realloc(q, small);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(first_mismatch(r, small), small);
    std::free(r);
  }
}

TEST(MallocContractTest, ReallocStaysInPlaceWithinAClass) {
  void* p = std::malloc(opaque(17));  // the 32-byte class
  ASSERT_EQ(malloc_usable_size(p), 32u);
  fill(p, 0, 17);
  EXPECT_EQ(std::realloc(p, 32), p);
  EXPECT_EQ(std::realloc(p, 24), p);
  EXPECT_EQ(first_mismatch(p, 17), 17u);
  std::free(p);

  void* run = std::malloc(opaque(40 * kKiB));  // a 64 KiB page run
  ASSERT_GE(malloc_usable_size(run), 64 * kKiB);
  EXPECT_EQ(std::realloc(run, 64 * kKiB), run);
  EXPECT_EQ(std::realloc(run, 50 * kKiB), run);
  std::free(run);
}

TEST(MallocContractTest, HugeBlocksGrowAndShrinkByRemapping) {
  // The pointer may move (mremap); the contents must not change.
  ASSERT_NO_FATAL_FAILURE(realloc_along({3 * kMiB, 5 * kMiB, 5 * kMiB + 1, 64 * kMiB, 33 * kMiB,
                                         4 * kMiB, 3 * kMiB - 7, kHugeThreshold + 4096}));
  expect_heap_consistent();
}

TEST(MallocContractTest, ReallocToZeroFreesAndReturnsNull) {
  // glibc: realloc(p, 0) frees p and returns NULL; realloc(NULL, 0) is malloc(0).
  void* fresh = std::realloc(nullptr, opaque(0));
  ASSERT_NE(fresh, nullptr);
  for (std::size_t s : {std::size_t{0}, std::size_t{64}, 100 * kKiB, 4 * kMiB}) {
    void* p = std::malloc(s);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(std::realloc(p, opaque(0)), nullptr) << s;
  }
  void* big = std::malloc(4 * kMiB);
  const struct mallinfo2 before = mallinfo2();
  EXPECT_EQ(std::realloc(big, opaque(0)), nullptr);
  EXPECT_EQ(mallinfo2().hblks, before.hblks - 1);  // the mapping is gone
  std::free(fresh);
  expect_heap_consistent();
}

TEST(MallocContractTest, ReallocarrayMultipliesAndKeepsContents) {
  auto* p = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 10; ++i) p[i] = i;
  p = static_cast<int*>(reallocarray(p, opaque(100000), sizeof(int)));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p[i], i);
  EXPECT_GE(malloc_usable_size(p), 100000 * sizeof(int));
  std::free(p);
}

// ---- aligned allocation ----

TEST(MallocContractTest, PosixMemalignRejectsBadAlignmentsWithEinval) {
  for (std::size_t align : {0, 1, 2, 4, 12, 24, 48, 96, 4095, 4097}) {
    void* p = &p;
    errno = 0;
    EXPECT_EQ(posix_memalign(&p, opaque(align), 64), EINVAL) << align;
    EXPECT_EQ(p, &p) << align;  // memptr untouched
  }
  void* p = &p;
  EXPECT_EQ(posix_memalign(&p, opaque(SIZE_MAX / 2 + 2), 64), EINVAL);
  EXPECT_EQ(p, &p);
}

TEST(MallocContractTest, PosixMemalignServesEveryAlignmentUpTo2MiB) {
  for (std::size_t align = sizeof(void*); align <= 2 * kMiB; align <<= 1) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{24},
                             align - 1, align, align + 1, 100 * kKiB, 3 * kMiB}) {
      void* p = nullptr;
      ASSERT_EQ(posix_memalign(&p, align, opaque(size)), 0) << align << " " << size;
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(aligned_to(p, align)) << align << " " << size << " " << p;
      EXPECT_GE(malloc_usable_size(p), size);
      std::memset(p, 0x11, size);
      std::free(p);
    }
  }
  expect_heap_consistent();
}

TEST(MallocContractTest, AlignmentsAbove2MiBFailWithEnomem) {
  // Documented in malloc.cc: kMaxKmallocAlign is 2 MiB (glibc would serve it).
  void* p = &p;
  EXPECT_EQ(posix_memalign(&p, 4 * kMiB, 100), ENOMEM);
  EXPECT_EQ(p, &p);
  errno = 0;
  EXPECT_EQ(aligned_alloc(4 * kMiB, 100), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(MallocContractTest, SixteenByteAlignmentOfTinyRequests) {
  // The 8-byte class is only 8-byte aligned: an explicit 16-byte request for
  // 8 bytes or less must not come from it.
  std::vector<void*> blocks;
  for (std::size_t size = 0; size <= 16; ++size) {
    void* p = nullptr;
    ASSERT_EQ(posix_memalign(&p, 16, opaque(size)), 0);
    blocks.push_back(p);
    blocks.push_back(aligned_alloc(16, opaque(size)));
    blocks.push_back(memalign(16, opaque(size)));
    blocks.push_back(::operator new (opaque(size), std::align_val_t{16}));
  }
  for (void* p : blocks) {
    EXPECT_TRUE(aligned_to(p, 16)) << p;
    ::operator delete (p, std::align_val_t{16});
  }
}

TEST(MallocContractTest, AlignedAllocRejectsNonPowersOfTwo) {
  for (std::size_t align : {0, 3, 12, 24, 100, 3000}) {
    errno = 0;
    EXPECT_EQ(aligned_alloc(opaque(align), 64), nullptr) << align;
    EXPECT_EQ(errno, EINVAL) << align;
  }
  for (std::size_t align = 1; align <= 2 * kMiB; align <<= 1) {
    void* p = aligned_alloc(align, opaque(3 * align / 2 + 1));  // not a multiple: allowed
    ASSERT_NE(p, nullptr) << align;
    EXPECT_TRUE(aligned_to(p, align)) << align;
    std::free(p);
  }
}

TEST(MallocContractTest, MemalignRoundsANonPowerUp) {
  for (std::size_t align : {24, 48, 100, 1000, 3000, 5000}) {
    std::size_t pow = 1;
    while (pow < align) pow <<= 1;
    void* p = memalign(opaque(align), 40);
    ASSERT_NE(p, nullptr) << align;
    EXPECT_TRUE(aligned_to(p, pow)) << align << " " << p;
    std::free(p);
  }
  for (std::size_t align : {0, 1, 2, 4, 8, 16}) {  // at most the fundamental alignment
    void* p = memalign(opaque(align), 32);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned_to(p, 16));
    std::free(p);
  }
  errno = 0;
  EXPECT_EQ(memalign(opaque(SIZE_MAX / 2 + 2), 16), nullptr);  // glibc: too large to round
  EXPECT_EQ(errno, EINVAL);
}

TEST(MallocContractTest, VallocAndPvallocArePageAligned) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1}, page - 1, page, page + 1, 5 * page, 3 * kMiB}) {
    void* v = valloc(opaque(size));
    ASSERT_NE(v, nullptr);
    EXPECT_TRUE(aligned_to(v, page)) << size;
    EXPECT_GE(malloc_usable_size(v), size);
    void* pv = pvalloc(opaque(size));
    ASSERT_NE(pv, nullptr);
    EXPECT_TRUE(aligned_to(pv, page)) << size;
    // pvalloc rounds the size up to whole pages (at least one).
    const std::size_t rounded = size == 0 ? page : (size + page - 1) / page * page;
    EXPECT_GE(malloc_usable_size(pv), rounded) << size;
    std::memset(pv, 0x22, rounded);
    std::free(v);
    std::free(pv);
  }
}

TEST(MallocContractTest, SmallAlignedRequestsComeFromASizeClass) {
  // The smallest class whose objects have the alignment, not a page run.
  struct Case {
    std::size_t align, size, max_usable;
  };
  for (const Case& c : {Case{32, 24, 32}, Case{64, 24, 64}, Case{64, 65, 128}, Case{128, 100, 128},
                        Case{256, 24, 256}, Case{512, 24, 512}, Case{1024, 600, 1024},
                        Case{4096, 100, 4096}, Case{4096, 4096, 4096}}) {
    void* p = aligned_alloc(c.align, opaque(c.size));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned_to(p, c.align)) << c.align << " " << c.size;
    EXPECT_GE(malloc_usable_size(p), c.size);
    EXPECT_LE(malloc_usable_size(p), c.max_usable) << c.align << " " << c.size;
    std::free(p);
  }
  void* p = ::operator new (24, std::align_val_t{64});
  EXPECT_LE(malloc_usable_size(p), 64u);
  ::operator delete (p, 24, std::align_val_t{64});
}

// ---- operator new and delete ----

TEST(MallocContractTest, EveryNewAndDeleteForm) {
  const std::size_t n = opaque(100);
  const auto a64 = std::align_val_t{64};
  const auto a4k = std::align_val_t{4096};
  const auto aligned_ok = [](void* p, std::size_t a) {
    return p != nullptr && aligned_to(p, a) && numaslab_ksize(p) >= 100;
  };
  void* p = ::operator new(n);
  EXPECT_TRUE(aligned_ok(p, 16));
  ::operator delete(p);
  p = ::operator new[](n);
  EXPECT_TRUE(aligned_ok(p, 16));
  ::operator delete[](p);
  p = ::operator new(n, std::nothrow);
  EXPECT_TRUE(aligned_ok(p, 16));
  ::operator delete(p, std::nothrow);
  p = ::operator new[](n, std::nothrow);
  EXPECT_TRUE(aligned_ok(p, 16));
  ::operator delete[](p, std::nothrow);
  p = ::operator new(n);
  ::operator delete(p, n);  // sized
  p = ::operator new[](n);
  ::operator delete[](p, n);
  p = ::operator new(n, a64);
  EXPECT_TRUE(aligned_ok(p, 64));
  ::operator delete(p, a64);
  p = ::operator new[](n, a4k);
  EXPECT_TRUE(aligned_ok(p, 4096));
  ::operator delete[](p, a4k);
  p = ::operator new(n, a4k);
  ::operator delete(p, n, a4k);
  p = ::operator new[](n, a64);
  ::operator delete[](p, n, a64);
  p = ::operator new(n, a64, std::nothrow);
  EXPECT_TRUE(aligned_ok(p, 64));
  ::operator delete(p, a64, std::nothrow);
  p = ::operator new[](n, std::align_val_t{2 * kMiB}, std::nothrow);
  EXPECT_TRUE(aligned_ok(p, 2 * kMiB));
  ::operator delete[](p, std::align_val_t{2 * kMiB}, std::nothrow);
  expect_heap_consistent();
}

struct alignas(256) Overaligned {
  char bytes[300];
  ~Overaligned() { bytes[0] = 0; }  // non-trivial: new[] stores a cookie
};

TEST(MallocContractTest, NewExpressionsUseTheShim) {
  auto* one = new Overaligned;
  EXPECT_TRUE(aligned_to(one, 256));
  delete one;
  auto* many = new Overaligned[7];
  EXPECT_TRUE(aligned_to(many, 256));
  delete[] many;
  std::vector<std::string> strings;
  for (int i = 0; i < 10000; ++i)
    strings.push_back(std::string(static_cast<std::size_t>(i % 300), 'q'));
  strings.clear();
  strings.shrink_to_fit();
  expect_heap_consistent();
}

int g_handler_calls = 0;
void counting_then_uninstalling_handler() {
  if (++g_handler_calls == 3) std::set_new_handler(nullptr);
}
void throwing_handler() {
  ++g_handler_calls;
  throw std::bad_alloc();
}

TEST(MallocContractTest, NewThrowsBadAllocForAnImpossibleSize) {
  std::set_new_handler(nullptr);
  EXPECT_THROW(escape(::operator new(opaque(SIZE_MAX / 2))), std::bad_alloc);
  EXPECT_THROW(escape(::operator new[](opaque(SIZE_MAX - 64))), std::bad_alloc);
  EXPECT_THROW(escape(::operator new (opaque(std::size_t{1} << 45), std::align_val_t{64})),
               std::bad_alloc);
  EXPECT_THROW(escape(::operator new (100, std::align_val_t{4 * kMiB})), std::bad_alloc);
}

TEST(MallocContractTest, NewCallsTheNewHandlerUntilItUninstallsItself) {
  g_handler_calls = 0;
  std::set_new_handler(counting_then_uninstalling_handler);
  EXPECT_THROW(escape(::operator new(opaque(SIZE_MAX / 2))), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
  EXPECT_EQ(std::get_new_handler(), nullptr);

  g_handler_calls = 0;
  std::set_new_handler(counting_then_uninstalling_handler);
  EXPECT_THROW(escape(::operator new[](opaque(SIZE_MAX / 2), std::align_val_t{128})),
               std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
}

TEST(MallocContractTest, AThrowingNewHandlerPropagates) {
  g_handler_calls = 0;
  std::set_new_handler(throwing_handler);
  EXPECT_THROW(escape(::operator new(opaque(SIZE_MAX / 2))), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 1);
  // A handler that can make progress is not called when memory is there.
  void* p = ::operator new(opaque(64));
  EXPECT_EQ(g_handler_calls, 1);
  ::operator delete(p);
  std::set_new_handler(nullptr);
}

TEST(MallocContractTest, NothrowNewReturnsNull) {
  std::set_new_handler(nullptr);
  EXPECT_EQ(::operator new(opaque(SIZE_MAX / 2), std::nothrow), nullptr);
  EXPECT_EQ(::operator new[](opaque(SIZE_MAX / 2), std::nothrow), nullptr);
  EXPECT_EQ(::operator new (opaque(SIZE_MAX / 2), std::align_val_t{64}, std::nothrow), nullptr);
  EXPECT_EQ(::operator new[](100, std::align_val_t{4 * kMiB}, std::nothrow), nullptr);
  // With a handler: it is called, and its bad_alloc becomes nullptr.
  g_handler_calls = 0;
  std::set_new_handler(throwing_handler);
  EXPECT_EQ(::operator new(opaque(SIZE_MAX / 2), std::nothrow), nullptr);
  EXPECT_EQ(g_handler_calls, 1);
  g_handler_calls = 0;
  std::set_new_handler(counting_then_uninstalling_handler);
  EXPECT_EQ(::operator new[](opaque(SIZE_MAX / 2), std::nothrow), nullptr);
  EXPECT_EQ(g_handler_calls, 3);
  std::set_new_handler(nullptr);
}

// ---- mallopt, malloc_trim, mallinfo2, malloc_stats ----

TEST(MallocContractTest, MalloptAcceptsGlibcParametersAndIgnoresThem) {
  for (int param : {M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX,
                    M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX})
    EXPECT_EQ(mallopt(param, 1), 1) << param;
  EXPECT_EQ(mallopt(12345, 1), 0);
  EXPECT_EQ(mallopt(M_PERTURB, 0xaa), 1);
  void* p = std::malloc(64);  // M_PERTURB ignored: no fill pattern
  std::free(p);
}

TEST(MallocContractTest, MallocTrimReturnsFreedMemory) {
  std::vector<void*> blocks;
  for (int i = 0; i < 40000; ++i) {
    void* p = std::malloc(256);
    std::memset(p, 1, 256);
    blocks.push_back(p);
  }
  for (void* p : blocks) std::free(p);
  EXPECT_EQ(malloc_trim(0), 1);  // about 10 MiB of slabs went back
  const int again = malloc_trim(0);
  EXPECT_TRUE(again == 0 || again == 1);
  expect_heap_consistent();
}

TEST(MallocContractTest, Mallinfo2CountsPagesAndMappings) {
  void* warm = std::malloc(16);  // started
  const struct mallinfo2 before = mallinfo2();
  EXPECT_GT(before.arena, 0u);
  EXPECT_GT(before.uordblks, 0u);
  void* huge = std::malloc(8 * kMiB);
  void* run = std::malloc(kMiB);
  const struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblks, before.hblks + 1);
  EXPECT_GE(during.hblkhd, before.hblkhd + 8 * kMiB);
  EXPECT_GE(during.uordblks, before.uordblks + 8 * kMiB + kMiB);
  std::free(huge);
  std::free(run);
  const struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(after.hblks, before.hblks);
  EXPECT_EQ(after.hblkhd, before.hblkhd);
  EXPECT_LE(after.uordblks, during.uordblks - 8 * kMiB - kMiB);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
  EXPECT_EQ(static_cast<std::size_t>(old.hblks), after.hblks);
  EXPECT_GT(old.arena, 0);
  std::free(warm);
}

TEST(MallocContractTest, MallocStatsPrintsTheSummaryToStderr) {
  void* p = std::malloc(100);
  ::testing::internal::CaptureStderr();
  malloc_stats();
  const std::string text = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(text.find("numaslab: statistics (pid "), std::string::npos) << text;
  EXPECT_NE(text.find("per-CPU arrays:"), std::string::npos) << text;
  EXPECT_NE(text.find("kmalloc-"), std::string::npos) << text;
  // Free memory kept, and how much of it may be resident (no more than that).
  unsigned long long in_use = 0, kept = 0, resident = 0;
  const std::size_t at = text.find("  memory: ");
  ASSERT_NE(at, std::string::npos) << text;
  ASSERT_EQ(
      std::sscanf(text.c_str() + at,
                  "  memory: %llu KiB in use (slabs and large blocks), %llu KiB free and kept "
                  "(%llu KiB of it resident",
                  &in_use, &kept, &resident),
      3)
      << text;
  EXPECT_GT(in_use, 0u);
  EXPECT_LE(resident, kept);
  std::free(p);
}

// ---- glibc's internal names ----

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

TEST(MallocContractTest, LibcAliasesAreTheShims) {
  void* p = __libc_malloc(opaque(40));
  EXPECT_EQ(numaslab_ksize(p), malloc_usable_size(p));
  p = __libc_realloc(p, 4000);
  EXPECT_GE(numaslab_ksize(p), 4000u);
  std::free(p);
  p = __libc_calloc(10, 10);
  EXPECT_TRUE(all_zero(p, 100));
  __libc_free(p);
  p = __libc_memalign(256, 10);
  EXPECT_TRUE(aligned_to(p, 256));
  __libc_free(p);
}

// ---- bad frees are fatal, with a diagnostic ----

#define PTR "0x[0-9a-f]+"

class MallocContractDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(MallocContractDeathTest, FreeOfAPointerNeverReturned) {
  char on_stack[64];
  EXPECT_DEATH(std::free(escape(on_stack)),
               "numaslab: fatal: numaslab_kfree: " PTR " was never returned by numaslab");
  static char in_data[64];
  EXPECT_DEATH(std::free(escape(in_data)),
               "numaslab_kfree: " PTR " was never returned by numaslab");
}

TEST_F(MallocContractDeathTest, FreeOfAnInteriorPointer) {
  char* p = static_cast<char*>(std::malloc(100 * kKiB));
  EXPECT_DEATH(std::free(escape(p + 4096)), "numaslab_kfree: " PTR " is an interior pointer");
  std::free(p);
}

TEST_F(MallocContractDeathTest, DoubleFreeOfALargeBlock) {
  EXPECT_DEATH(
      {
        void* p = std::malloc(opaque(100 * kKiB));
        std::free(p);
        std::free(escape(p));
      },
      "numaslab: fatal: numaslab_kfree: double free of " PTR " \\(a 102400-byte block");
  EXPECT_DEATH(
      {
        void* p = std::malloc(opaque(5 * kMiB));
        std::free(p);
        std::free(escape(p));
      },
      "numaslab_kfree: double free of " PTR " \\(a 5242880-byte block");
}

TEST_F(MallocContractDeathTest, FreeAfterReallocToZero) {
  EXPECT_DEATH(
      {
        void* p = std::malloc(opaque(200 * kKiB));
        EXPECT_EQ(std::realloc(p, opaque(0)), nullptr);
        std::free(escape(p));
      },
      "numaslab_kfree: double free of " PTR);
}

}  // namespace
