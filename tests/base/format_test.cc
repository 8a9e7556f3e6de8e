// Tests for base/format.h: format() and BufWriter.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "base/format.h"

// The helper below forwards a runtime format string on purpose.
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

namespace numaslab::detail {
namespace {

// Formats into a generous buffer and returns the text; checks the return
// value equals the text length (nothing was truncated).
template <typename... Args>
std::string fmt(const char* f, Args... args) {
  char buf[256];
  std::memset(buf, 'Z', sizeof buf);
  std::size_t n = format(buf, sizeof buf, f, args...);
  EXPECT_LT(n, sizeof buf);
  EXPECT_EQ(std::strlen(buf), n) << "returned length disagrees with the text for \"" << f << "\"";
  return std::string(buf);
}

TEST(Format, PlainTextAndPercent) {
  EXPECT_EQ(fmt("hello"), "hello");
  EXPECT_EQ(fmt(""), "");
  EXPECT_EQ(fmt("100%%"), "100%");
  EXPECT_EQ(fmt("%%d"), "%d");
  // An unknown conversion is copied through rather than consuming arguments.
  EXPECT_EQ(fmt("a%qb"), "a%qb");
  // A trailing lone '%' ends the output.
  EXPECT_EQ(fmt("abc%"), "abc");
}

TEST(Format, SignedDecimal) {
  EXPECT_EQ(fmt("%d", 0), "0");
  EXPECT_EQ(fmt("%d", 42), "42");
  EXPECT_EQ(fmt("%d", -42), "-42");
  EXPECT_EQ(fmt("%i", -7), "-7");
  EXPECT_EQ(fmt("%d", INT_MAX), "2147483647");
  EXPECT_EQ(fmt("%d", INT_MIN), "-2147483648");
  EXPECT_EQ(fmt("%ld", LONG_MIN), "-9223372036854775808");
  EXPECT_EQ(fmt("%ld", LONG_MAX), "9223372036854775807");
  EXPECT_EQ(fmt("%lld", LLONG_MIN), "-9223372036854775808");
  EXPECT_EQ(fmt("%lld", -1LL), "-1");
}

TEST(Format, UnsignedLengthModifiers) {
  EXPECT_EQ(fmt("%u", 0u), "0");
  EXPECT_EQ(fmt("%u", UINT_MAX), "4294967295");
  EXPECT_EQ(fmt("%lu", ULONG_MAX), "18446744073709551615");
  EXPECT_EQ(fmt("%llu", ULLONG_MAX), "18446744073709551615");
  EXPECT_EQ(fmt("%zu", SIZE_MAX), "18446744073709551615");
  EXPECT_EQ(fmt("%zu", std::size_t{123456789}), "123456789");
  // A 32-bit %u must not pick up garbage from a wider slot.
  EXPECT_EQ(fmt("%u %u", 1u, 2u), "1 2");
  EXPECT_EQ(fmt("%zu|%u|%llu", std::size_t{5}, 6u, 7ULL), "5|6|7");
}

TEST(Format, Hex) {
  EXPECT_EQ(fmt("%x", 0u), "0");
  EXPECT_EQ(fmt("%x", 0xdeadbeefu), "deadbeef");
  EXPECT_EQ(fmt("%lx", 0x0123456789abcdefUL), "123456789abcdef");
  EXPECT_EQ(fmt("%llx", 0xffffffffffffffffULL), "ffffffffffffffff");
  EXPECT_EQ(fmt("%zx", std::size_t{4096}), "1000");
  EXPECT_EQ(fmt("%08x", 0xbeefu), "0000beef");
  EXPECT_EQ(fmt("%-8x|", 0xbeefu), "beef    |");
}

TEST(Format, Widths) {
  EXPECT_EQ(fmt("%5d|", 42), "   42|");
  EXPECT_EQ(fmt("%-5d|", 42), "42   |");
  EXPECT_EQ(fmt("%05d|", 42), "00042|");
  EXPECT_EQ(fmt("%5u|", 123456u), "123456|");  // width is a minimum
  EXPECT_EQ(fmt("%1d|", 42), "42|");
  EXPECT_EQ(fmt("%5d|", -42), "  -42|");
  EXPECT_EQ(fmt("%-5d|", -42), "-42  |");
  EXPECT_EQ(fmt("%10zu|", std::size_t{7}), "         7|");
  EXPECT_EQ(fmt("%-10llu|", 7ULL), "7         |");
  EXPECT_EQ(fmt("%03u", 7u), "007");
  // '-' wins over '0' (as in printf): pad on the right with spaces.
  EXPECT_EQ(fmt("%-05d|", 42), "42   |");
  EXPECT_EQ(fmt("%0-5d|", 42), "42   |");
}

TEST(Format, ZeroPaddedNegativeKeepsSignFirst) {
  // printf semantics: the sign precedes the zero padding.
  EXPECT_EQ(fmt("%05d", -42), "-0042");
  EXPECT_EQ(fmt("%04d", -1), "-001");
  EXPECT_EQ(fmt("%06lld", -12345LL), "-12345");
}

TEST(Format, Strings) {
  EXPECT_EQ(fmt("%s", "abc"), "abc");
  EXPECT_EQ(fmt("[%s]", ""), "[]");
  EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
  EXPECT_EQ(fmt("%6s|", "ab"), "    ab|");
  EXPECT_EQ(fmt("%-6s|", "ab"), "ab    |");
  EXPECT_EQ(fmt("%2s|", "abcdef"), "abcdef|");
  EXPECT_EQ(fmt("%-8s|", static_cast<const char*>(nullptr)), "(null)  |");
}

TEST(Format, CharsAndPointers) {
  EXPECT_EQ(fmt("%c", 'A'), "A");
  EXPECT_EQ(fmt("%c%c%c", 'x', 'y', 'z'), "xyz");
  EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x1234)), "0x1234");
  EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x7fffdeadbeefULL)), "0x7fffdeadbeef");
  EXPECT_EQ(fmt("%p", static_cast<void*>(nullptr)), "0x0");
  int x = 0;
  char expect[64];
  std::snprintf(expect, sizeof expect, "0x%llx",
                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(&x)));
  EXPECT_EQ(fmt("%p", static_cast<void*>(&x)), expect);
}

TEST(Format, MixedLikeDiagnostics) {
  EXPECT_EQ(fmt("cache '%s': %u free + %u inuse != %u objects", "kmalloc-64", 3u, 4u, 8u),
            "cache 'kmalloc-64': 3 free + 4 inuse != 8 objects");
  EXPECT_EQ(fmt("%-12s %6lu %6lu %4u", "dentry", 100UL, 128UL, 30u),
            "dentry          100    128   30");
}

TEST(Format, AgreesWithSnprintfOnManyValues) {
  const long long values[] = {0, 1, -1, 9, 10, -10, 99, 100, 12345, -99999, 1LL << 40,
                              -(1LL << 40), LLONG_MAX, LLONG_MIN + 1};
  const char* specs[] = {"%lld", "%8lld", "%-8lld|", "%1lld", "%20lld", "%-21lld|"};
  for (long long v : values) {
    for (const char* s : specs) {
      char want[64], got[64];
      std::snprintf(want, sizeof want, s, v);
      std::size_t n = format(got, sizeof got, s, v);
      EXPECT_STREQ(got, want) << "spec " << s << " value " << v;
      EXPECT_EQ(n, std::strlen(want));
    }
    unsigned long long u = static_cast<unsigned long long>(v);
    for (const char* s : {"%llu", "%llx", "%25llu", "%-25llx|", "%025llu", "%018llx"}) {
      char want[64], got[64];
      std::snprintf(want, sizeof want, s, u);
      format(got, sizeof got, s, u);
      EXPECT_STREQ(got, want) << "spec " << s << " value " << u;
    }
  }
}

// ---- truncation ----

TEST(Format, TruncationIsNulTerminatedAndReportsFullLength) {
  char buf[16];
  std::memset(buf, 'Z', sizeof buf);
  std::size_t n = format(buf, 5, "hello world");
  EXPECT_EQ(n, 11u);
  EXPECT_STREQ(buf, "hell");
  // Nothing written past the capacity.
  for (std::size_t i = 5; i < sizeof buf; ++i) EXPECT_EQ(buf[i], 'Z') << "byte " << i;
}

TEST(Format, TruncationInsideAConversion) {
  char buf[32];
  for (std::size_t cap = 1; cap <= 12; ++cap) {
    std::memset(buf, 'Z', sizeof buf);
    std::size_t n = format(buf, cap, "x=%d;%s", -123456, "tail");
    const std::string full = "x=-123456;tail";
    EXPECT_EQ(n, full.size()) << "cap " << cap;
    EXPECT_EQ(std::string(buf), full.substr(0, cap - 1)) << "cap " << cap;
    for (std::size_t i = cap; i < sizeof buf; ++i) ASSERT_EQ(buf[i], 'Z') << "cap " << cap;
  }
}

TEST(Format, WidthBeyondCapacity) {
  char buf[8];
  std::memset(buf, 'Z', sizeof buf);
  std::size_t n = format(buf, sizeof buf, "%20d", 5);
  EXPECT_EQ(n, 20u);
  EXPECT_EQ(std::string(buf), std::string(7, ' '));
  n = format(buf, sizeof buf, "%-20s|", "ab");
  EXPECT_EQ(n, 21u);
  EXPECT_STREQ(buf, "ab     ");
}

TEST(Format, CapacityOneAndZero) {
  char buf[4] = {'Z', 'Z', 'Z', 'Z'};
  EXPECT_EQ(format(buf, 1, "abc%d", 12), 5u);
  EXPECT_EQ(buf[0], '\0');
  EXPECT_EQ(buf[1], 'Z');
  // Capacity 0: nothing is written at all (snprintf-style size query).
  buf[0] = 'Q';
  EXPECT_EQ(format(buf, 0, "abcdef"), 6u);
  EXPECT_EQ(buf[0], 'Q');
  EXPECT_EQ(format(nullptr, 0, "%s=%zu", "size", std::size_t{1234}), 9u);
}

TEST(Format, ExactFit) {
  char buf[6];
  std::memset(buf, 'Z', sizeof buf);
  EXPECT_EQ(format(buf, sizeof buf, "12345"), 5u);
  EXPECT_STREQ(buf, "12345");
  std::memset(buf, 'Z', sizeof buf);
  EXPECT_EQ(format(buf, sizeof buf, "123456"), 6u);
  EXPECT_STREQ(buf, "12345");
}

// ---- BufWriter ----

TEST(BufWriter, StartsEmptyAndTerminated) {
  char buf[8];
  std::memset(buf, 'Z', sizeof buf);
  BufWriter w(buf, sizeof buf);
  EXPECT_EQ(buf[0], '\0');
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.wanted(), 0u);
  EXPECT_FALSE(w.truncated());
  EXPECT_EQ(w.c_str(), buf);
}

TEST(BufWriter, AppendsPieces) {
  char buf[64];
  BufWriter w(buf, sizeof buf);
  w.put('a');
  w.put("bc");
  w.put_n("defXXX", 3);
  w.put(static_cast<const char*>(nullptr));  // nothing
  w.put_u64(255, 16);
  w.put('|');
  w.put_u64(7, 10, 3, false, '0');
  w.put('|');
  w.put_u64(7, 10, 3, true);
  w.put('|');
  w.put_i64(-5, 4);
  w.put('|');
  w.put_i64(-5, 4, true);
  w.put('|');
  w.put_i64(INT64_MIN);
  w.put('|');
  w.put_ptr(reinterpret_cast<void*>(0xabc));
  EXPECT_STREQ(buf, "abcdefff|007|7  |  -5|-5  |-9223372036854775808|0xabc");
  EXPECT_EQ(w.size(), std::strlen(buf));
  EXPECT_EQ(w.wanted(), w.size());
  EXPECT_FALSE(w.truncated());
}

TEST(BufWriter, PrintfAppends) {
  char buf[64];
  BufWriter w(buf, sizeof buf);
  w.printf("%s=%d", "a", 1);
  w.printf(", %s=%zu", "b", std::size_t{2});
  EXPECT_STREQ(w.c_str(), "a=1, b=2");
}

TEST(BufWriter, TruncatesAndCountsWanted) {
  char buf[10];
  std::memset(buf, 'Z', sizeof buf);
  BufWriter w(buf, 6);
  w.put("abc");
  w.put_u64(123456789);
  w.put('!');
  EXPECT_STREQ(buf, "abc12");
  EXPECT_EQ(w.size(), 5u);
  EXPECT_EQ(w.wanted(), 3u + 9u + 1u);
  EXPECT_TRUE(w.truncated());
  for (std::size_t i = 6; i < sizeof buf; ++i) EXPECT_EQ(buf[i], 'Z');
  // Further output after truncation stays truncated and terminated.
  w.printf("%s", "more");
  EXPECT_STREQ(buf, "abc12");
  EXPECT_EQ(w.wanted(), 17u);
}

TEST(BufWriter, ZeroCapacityWritesNothing) {
  char c = 'Q';
  BufWriter w(&c, 0);
  w.put("hello");
  w.put_u64(42);
  EXPECT_EQ(c, 'Q');
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.wanted(), 7u);
  EXPECT_TRUE(w.truncated());
}

TEST(BufWriter, ByteAtATimeNeverOverflows) {
  // Every capacity from 1 to 40, a long mixed output: always terminated at
  // min(len, cap-1), never a byte past cap.
  const std::string full = "numaslab: fatal: object 0x7f00 of cache 'x' 12345";
  for (std::size_t cap = 1; cap <= 40; ++cap) {
    char buf[64];
    std::memset(buf, 'Z', sizeof buf);
    BufWriter w(buf, cap);
    w.printf("numaslab: fatal: object %p of cache '%s' %u", reinterpret_cast<void*>(0x7f00), "x",
             12345u);
    ASSERT_EQ(w.wanted(), full.size());
    ASSERT_EQ(std::string(buf), full.substr(0, cap - 1)) << cap;
    for (std::size_t i = cap; i < sizeof buf; ++i) ASSERT_EQ(buf[i], 'Z') << cap;
  }
}

TEST(WriteAll, WritesEverythingToAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string msg(3000, 'q');
  msg += "end";
  write_all(fds[1], msg.data(), msg.size());
  close(fds[1]);
  std::string got;
  char buf[512];
  ssize_t k;
  while ((k = read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(k));
  close(fds[0]);
  EXPECT_EQ(got, msg);
}

}  // namespace
}  // namespace numaslab::detail
