// cfrac: the first phase of continued-fraction factoring (Morrison and
// Brillhart), on a bignum library whose every result is a fresh malloc'd
// number — many small, short-lived allocations of varying sizes, one thread,
// as in the classic cfrac benchmark.
//
// For numbers N of 3 to 11 limbs (29 to 106 decimal digits) it expands
// sqrt(N) as a continued fraction (m, d, a recurrences), keeps the
// convergents' numerators A mod N, and trial-divides each Q = d over the
// primes below 300, counting the Q that factor completely. The checksum folds
// the low limbs of d, a and A and the smooth count; the bignum code checks
// its own exact divisions.
#include <utility>
#include <vector>

#include "workload.h"

namespace {

using namespace workload;

using Limb = std::uint32_t;
using Wide = std::uint64_t;
constexpr Wide kBase = Wide{1} << 32;

// A natural number: one malloc'd block {length, limbs...}, least significant
// limb first, no leading zero limbs; zero owns no block.
class Big {
 public:
  Big() = default;
  explicit Big(Wide v) {
    if (v == 0) return;
    *this = with_size(v >> 32 ? 2 : 1);
    p_[1] = static_cast<Limb>(v);
    if (v >> 32) p_[2] = static_cast<Limb>(v >> 32);
  }
  Big(Big&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Big& operator=(Big&& o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  Big(const Big&) = delete;
  Big& operator=(const Big&) = delete;
  ~Big() { std::free(p_); }

  // n limbs, all zero; trim() after filling them.
  static Big with_size(std::size_t n) {
    Big b;
    if (n == 0) return b;
    b.p_ = static_cast<Limb*>(checked(std::calloc(n + 1, sizeof(Limb)), n + 1));
    b.p_[0] = static_cast<Limb>(n);
    return b;
  }
  Big copy() const {
    Big b = with_size(size());
    for (std::size_t i = 0; i < size(); ++i) b.p_[1 + i] = p_[1 + i];
    return b;
  }
  std::size_t size() const { return p_ ? p_[0] : 0; }
  Limb operator[](std::size_t i) const { return i < size() ? p_[1 + i] : 0; }
  Limb& at(std::size_t i) { return p_[1 + i]; }
  void trim() {
    while (p_ && p_[0] && p_[p_[0]] == 0) --p_[0];
  }
  bool is_one() const { return size() == 1 && p_[1] == 1; }

 private:
  Limb* p_ = nullptr;
};

int cmp(const Big& a, const Big& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (std::size_t i = a.size(); i-- > 0;)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

Big add(const Big& a, const Big& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Big r = Big::with_size(n + 1);
  Wide carry = 0;
  for (std::size_t i = 0; i <= n; ++i) {
    const Wide t = Wide{a[i]} + b[i] + carry;
    r.at(i) = static_cast<Limb>(t);
    carry = t >> 32;
  }
  r.trim();
  return r;
}

// a - b, a >= b.
Big sub(const Big& a, const Big& b) {
  Big r = Big::with_size(a.size());
  std::int64_t borrow = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::int64_t t = static_cast<std::int64_t>(a[i]) - b[i] - borrow;
    r.at(i) = static_cast<Limb>(t);
    borrow = t < 0;
  }
  if (borrow) fail("cfrac: negative difference");
  r.trim();
  return r;
}

Big mul(const Big& a, const Big& b) {
  if (a.size() == 0 || b.size() == 0) return Big();
  Big r = Big::with_size(a.size() + b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    Wide carry = 0;
    for (std::size_t j = 0; j < b.size(); ++j) {
      const Wide t = Wide{a[i]} * b[j] + r[i + j] + carry;
      r.at(i + j) = static_cast<Limb>(t);
      carry = t >> 32;
    }
    r.at(i + b.size()) = static_cast<Limb>(carry);
  }
  r.trim();
  return r;
}

Big divmod_small(const Big& a, Limb d, Limb* rem) {
  Big q = Big::with_size(a.size());
  Wide r = 0;
  for (std::size_t i = a.size(); i-- > 0;) {
    const Wide cur = (r << 32) | a[i];
    q.at(i) = static_cast<Limb>(cur / d);
    r = cur % d;
  }
  q.trim();
  *rem = static_cast<Limb>(r);
  return q;
}

// Long division (Knuth's algorithm D): the divisor normalised so its top bit
// is set, one estimated quotient limb per step, corrected at most twice.
void divmod(const Big& u, const Big& v, Big* q, Big* r) {
  const std::size_t n = v.size(), m = u.size();
  if (n == 0) fail("cfrac: division by zero");
  if (cmp(u, v) < 0) {
    if (q) *q = Big();
    if (r) *r = u.copy();
    return;
  }
  if (n == 1) {
    Limb rem;
    Big quo = divmod_small(u, v[0], &rem);
    if (q) *q = std::move(quo);
    if (r) *r = Big(rem);
    return;
  }
  const int s = __builtin_clz(v[n - 1]);
  auto* vn = static_cast<Limb*>(xmalloc(n * sizeof(Limb)));
  auto* un = static_cast<Limb*>(xmalloc((m + 1) * sizeof(Limb)));
  for (std::size_t i = n - 1; i > 0; --i)
    vn[i] = static_cast<Limb>((Wide{v[i]} << s) | (Wide{v[i - 1]} >> (32 - s)));
  vn[0] = static_cast<Limb>(Wide{v[0]} << s);
  un[m] = static_cast<Limb>(Wide{u[m - 1]} >> (32 - s));
  for (std::size_t i = m - 1; i > 0; --i)
    un[i] = static_cast<Limb>((Wide{u[i]} << s) | (Wide{u[i - 1]} >> (32 - s)));
  un[0] = static_cast<Limb>(Wide{u[0]} << s);

  Big quo = Big::with_size(m - n + 1);
  for (std::size_t j = m - n + 1; j-- > 0;) {
    const Wide num = (Wide{un[j + n]} << 32) | un[j + n - 1];
    Wide qhat = num / vn[n - 1], rhat = num % vn[n - 1];
    while (qhat >= kBase || qhat * vn[n - 2] > ((rhat << 32) | un[j + n - 2])) {
      --qhat;
      rhat += vn[n - 1];
      if (rhat >= kBase) break;
    }
    std::int64_t k = 0, t;
    for (std::size_t i = 0; i < n; ++i) {
      const Wide p = qhat * vn[i];
      t = static_cast<std::int64_t>(un[i + j]) - k - static_cast<std::int64_t>(p & 0xFFFFFFFFu);
      un[i + j] = static_cast<Limb>(t);
      k = static_cast<std::int64_t>(p >> 32) - (t >> 32);
    }
    t = static_cast<std::int64_t>(un[j + n]) - k;
    un[j + n] = static_cast<Limb>(t);
    if (t < 0) {  // qhat was one too large: add the divisor back
      --qhat;
      Wide carry = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const Wide sum = Wide{un[i + j]} + vn[i] + carry;
        un[i + j] = static_cast<Limb>(sum);
        carry = sum >> 32;
      }
      un[j + n] = static_cast<Limb>(un[j + n] + carry);
    }
    quo.at(j) = static_cast<Limb>(qhat);
  }
  quo.trim();
  if (q) *q = std::move(quo);
  if (r) {
    Big rem = Big::with_size(n);
    for (std::size_t i = 0; i < n; ++i)
      rem.at(i) = static_cast<Limb>((Wide{un[i]} >> s) | (Wide{un[i + 1]} << (32 - s)));
    rem.trim();
    *r = std::move(rem);
  }
  std::free(un);
  std::free(vn);
}

// floor(sqrt(n)) by Newton's iteration from above.
Big isqrt(const Big& n) {
  if (n.size() == 0) return Big();
  const std::size_t bits = 32 * n.size() - static_cast<std::size_t>(__builtin_clz(n[n.size() - 1]));
  const std::size_t half = (bits + 1) / 2;
  Big x = Big::with_size(half / 32 + 1);
  x.at(half / 32) = Limb{1} << (half % 32);
  x.trim();
  for (;;) {
    Big q;
    divmod(n, x, &q, nullptr);
    Limb odd;
    Big y = divmod_small(add(x, q), 2, &odd);
    if (cmp(y, x) >= 0) return x;
    x = std::move(y);
  }
}

Big random_odd(Rng& rng, std::size_t limbs) {
  Big b = Big::with_size(limbs);
  for (std::size_t i = 0; i < limbs; ++i) b.at(i) = static_cast<Limb>(rng.next());
  b.at(0) |= 1;
  b.at(limbs - 1) |= Limb{1} << 31;
  return b;
}

std::vector<Limb> primes_below(Limb n) {
  std::vector<bool> composite(n, false);
  std::vector<Limb> out;
  for (Limb p = 2; p < n; ++p) {
    if (composite[p]) continue;
    out.push_back(p);
    for (Limb k = p * p; k < n; k += p) composite[k] = true;
  }
  return out;
}

// One number: `steps` terms of the expansion of sqrt(N).
std::uint64_t expand(const Big& N, long steps, const std::vector<Limb>& base) {
  Big a0 = isqrt(N);
  Big m, d(1), a = a0.copy();
  Big A_prev(1), A = a0.copy();
  std::uint64_t h = 0, smooth = 0;
  for (long i = 0; i < steps; ++i) {
    Big m_next = sub(mul(d, a), m);
    Big d_next, rem;
    divmod(sub(N, mul(m_next, m_next)), d, &d_next, &rem);
    if (rem.size() != 0 || d_next.size() == 0) fail("cfrac: inexact step (bignum arithmetic)");
    Big a_next;
    divmod(add(a0, m_next), d_next, &a_next, nullptr);
    Big A_next;
    divmod(add(mul(a_next, A), A_prev), N, nullptr, &A_next);

    Big q = d_next.copy();
    for (Limb p : base)
      for (;;) {
        Limb r;
        Big quo = divmod_small(q, p, &r);
        if (r != 0) break;
        q = std::move(quo);
      }
    if (q.is_one()) ++smooth;

    h = fold(h, d_next[0]);
    h = fold(h, a_next[0]);
    h = fold(h, A_next[0]);
    m = std::move(m_next);
    d = std::move(d_next);
    a = std::move(a_next);
    A_prev = std::move(A);
    A = std::move(A_next);
  }
  return fold(h, smooth);
}

}  // namespace

int main(int argc, char** argv) {
  const long steps = scaled(15'000, parse_scale(argc, argv));
  const std::vector<Limb> base = primes_below(300);
  Rng rng(seed_of(3, 0));
  std::uint64_t sum = 0;
  for (std::size_t limbs : {3, 4, 6, 8, 11})
    for (int k = 0; k < 4; ++k) sum = fold(sum, expand(random_odd(rng, limbs), steps, base));
  return finish(sum);
}
