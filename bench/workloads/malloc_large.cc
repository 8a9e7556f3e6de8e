// malloc-large: large blocks, 64 KiB to 32 MiB, replaced and grown (the
// shape of mimalloc-bench's malloc-large, with realloc growth added).
//
// One thread keeps kSlots large blocks. SCALE x kOps times it picks a random
// slot and either replaces its block with a new one of a log-uniform size
// (malloc, or calloc one time in four, checked to be zero), or reallocs it —
// grows it 1.25x to 2x, or, once past 16 MiB, shrinks it to a quarter — and
// checks that the contents survived. Blocks are touched as a program would
// touch a large buffer it is filling sparsely: a mark every kStride bytes
// (one page in 16), the first and last 8 bytes. So the time counts the page
// faults an allocator causes by returning memory and mapping it again, and the
// peak RSS what it keeps.
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

constexpr std::size_t kSlots = 16;
constexpr long kOps = 1200;
constexpr std::size_t kMin = 64 << 10, kMax = 32 << 20;
constexpr std::size_t kStride = 64 << 10;

// The marks of a block of `size` bytes in [from, to): at multiples of
// kStride, clear of the trailer.
template <class F>
void for_marks(std::size_t from, std::size_t to, std::size_t size, F&& f) {
  const std::size_t end = std::min(to, size - 16);
  for (std::size_t off = (from + kStride - 1) / kStride * kStride; off < end; off += kStride)
    f(off);
}

void write_marks(Block& b, std::size_t from) {
  auto* p = static_cast<char*>(b.p);
  for_marks(from, b.size, b.size, [&](std::size_t off) {
    const std::uint64_t v = b.tag ^ off;
    std::memcpy(p + off, &v, 8);
  });
  const std::uint64_t t = ~b.tag;
  std::memcpy(p + b.size - 8, &t, 8);
}

std::uint64_t check_marks(const Block& b, std::size_t upto) {
  const auto* p = static_cast<const char*>(b.p);
  std::uint64_t sum = 0;
  for_marks(0, upto, b.size, [&](std::size_t off) {
    std::uint64_t v;
    std::memcpy(&v, p + off, 8);
    if (v != (b.tag ^ off)) fail("large block %p: mark at %zu overwritten", b.p, off);
    sum += mix(v);
  });
  return sum;
}

void check_zero(const Block& b) {
  const auto* p = static_cast<const unsigned char*>(b.p);
  bool zero = p[0] == 0 && p[b.size - 1] == 0;
  for_marks(0, b.size, b.size, [&](std::size_t off) { zero = zero && p[off] == 0; });
  if (!zero) fail("calloc(1, %zu) returned memory that is not zero", b.size);
}

Block make(Rng& rng) {
  const std::size_t size = rng.log_between(kMin, kMax);
  const std::uint64_t tag = rng.next();
  const bool zeroed = (tag & 3) == 0;
  Block b{zeroed ? checked(std::calloc(1, size), size) : xmalloc(size), size, tag};
  if (zeroed) check_zero(b);
  std::memcpy(b.p, &tag, 8);
  write_marks(b, 8);
  return b;
}

std::uint64_t retire(Block& b) {
  if (!b.p) return 0;
  const std::uint64_t marks = check_marks(b, b.size);
  return marks + free_block(b);
}

// Marks below old - 16 were written; the trailer moves to the new end.
std::uint64_t resize(Block& b, Rng& rng) {
  const std::size_t old = b.size;
  const double growth = 1.25 + 0.75 * rng.unit();
  const std::size_t size =
      old > kMax / 2 ? old / 4
                     : std::min(kMax, static_cast<std::size_t>(static_cast<double>(old) * growth));
  std::uint64_t sum = take_stamp(b.p, b.size, b.tag);
  b.p = checked(std::realloc(b.p, size), size);
  b.size = size;
  sum += check_marks(b, std::min(old - 16, size));
  if (read_tag(b.p) != b.tag) fail("realloc to %zu bytes lost the contents", size);
  write_marks(b, old - 16);
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const long ops = scaled(kOps, parse_scale(argc, argv));
  Rng rng(seed_of(10, 0));
  std::vector<Block> slots(kSlots);
  std::uint64_t h = 0;
  for (long k = 0; k < ops; ++k) {
    Block& b = slots[rng.below(kSlots)];
    if (!b.p || rng.below(2) == 0) {
      h = fold(h, retire(b));
      b = make(rng);
    } else {
      h = fold(h, resize(b, rng));
    }
  }
  for (Block& b : slots) h = fold(h, retire(b));
  return finish(h);
}
