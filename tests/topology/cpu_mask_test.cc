#include "topology/cpu_mask.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace numaslab {

using detail::CpuMask;
using detail::format_cpulist;
using detail::parse_cpulist;
namespace {

CpuMask mask_of(std::initializer_list<int> cpus) {
  CpuMask m;
  for (int c : cpus) m.set(c);
  return m;
}

std::string format(const CpuMask& m) {
  char buf[8192];
  std::size_t n = format_cpulist(m, buf, sizeof buf);
  EXPECT_EQ(n, std::strlen(buf));
  return buf;
}

// A mask with junk in it, to prove a failed parse clears the output.
CpuMask dirty() { return mask_of({1, 500, 1023}); }

TEST(CpuMask, BasicOperations) {
  CpuMask m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.count(), 0);
  EXPECT_EQ(m.first(), -1);
  EXPECT_EQ(m.last(), -1);
  m.set(0);
  m.set(63);
  m.set(64);
  m.set(1023);
  EXPECT_EQ(m.count(), 4);
  EXPECT_FALSE(m.empty());
  EXPECT_TRUE(m.test(63));
  EXPECT_FALSE(m.test(62));
  EXPECT_FALSE(m.test(-1));
  EXPECT_FALSE(m.test(kMaxCpus));
  EXPECT_EQ(m.first(), 0);
  EXPECT_EQ(m.next(1), 63);
  EXPECT_EQ(m.next(64), 64);
  EXPECT_EQ(m.next(65), 1023);
  EXPECT_EQ(m.next(1023), 1023);
  EXPECT_EQ(m.next(kMaxCpus), -1);
  EXPECT_EQ(m.next(-7), 0);
  EXPECT_EQ(m.last(), 1023);
  m.clear(1023);
  EXPECT_EQ(m.last(), 64);
  EXPECT_EQ(m.next(65), -1);
}

TEST(CpuMask, Equality) {
  EXPECT_EQ(mask_of({1, 2, 700}), mask_of({700, 2, 1}));
  EXPECT_NE(mask_of({1, 2}), mask_of({1, 2, 700}));
  EXPECT_EQ(CpuMask{}, CpuMask{});
}

TEST(CpuList, ParsesKernelForms) {
  struct Case {
    const char* text;
    CpuMask want;
  } cases[] = {
      {"0-3,8-11", mask_of({0, 1, 2, 3, 8, 9, 10, 11})},
      {"0", mask_of({0})},
      {"5", mask_of({5})},
      {"0,2,4-5", mask_of({0, 2, 4, 5})},
      {"", CpuMask{}},
      {"\n", CpuMask{}},
      {"0-3\n", mask_of({0, 1, 2, 3})},
      {"1,3  \n", mask_of({1, 3})},
      {"7-7", mask_of({7})},
      {"4-5,0-1", mask_of({0, 1, 4, 5})},
      {"1023", mask_of({1023})},
      {"007", mask_of({7})},
  };
  for (const auto& c : cases) {
    CpuMask m = dirty();
    EXPECT_TRUE(parse_cpulist(c.text, &m)) << '"' << c.text << '"';
    EXPECT_EQ(m, c.want) << '"' << c.text << '"';
  }
}

TEST(CpuList, ParsesWholeRange) {
  CpuMask m;
  ASSERT_TRUE(parse_cpulist("0-1023", &m));
  EXPECT_EQ(m.count(), kMaxCpus);
  EXPECT_EQ(m.first(), 0);
  EXPECT_EQ(m.last(), 1023);
}

TEST(CpuList, RejectsMalformed) {
  const char* bad[] = {
      "3-1",  "a",      "1-",          "-1",          ",",          "1,,2", "1,",   ",1",
      "1024", "0-1024", "1-2-3",       "0-7:2",       " 1",         "1 2",  "1\n2", "0x1",
      "+1",   "1,a",    "99999999999", "00000000001", "4294967297", "1--2",
  };
  for (const char* text : bad) {
    CpuMask m = dirty();
    EXPECT_FALSE(parse_cpulist(text, &m)) << '"' << text << '"';
    EXPECT_TRUE(m.empty()) << '"' << text << '"';
  }
  CpuMask m = dirty();
  EXPECT_FALSE(parse_cpulist(nullptr, &m));
  EXPECT_TRUE(m.empty());
}

TEST(CpuList, HonoursLimit) {
  CpuMask m;
  EXPECT_TRUE(parse_cpulist("0-7", &m, 8));
  EXPECT_EQ(m.count(), 8);
  EXPECT_FALSE(parse_cpulist("8", &m, 8));
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(parse_cpulist("0-8", &m, 8));
  EXPECT_TRUE(parse_cpulist("63", &m, 64));
  EXPECT_FALSE(parse_cpulist("64", &m, 64));
  EXPECT_TRUE(parse_cpulist("", &m, 0));
  EXPECT_FALSE(parse_cpulist("0", &m, 0));
  // A limit past the mask's capacity is clamped rather than overflowing it.
  EXPECT_FALSE(parse_cpulist("1024", &m, 1 << 20));
  EXPECT_TRUE(parse_cpulist("1023", &m, 1 << 20));
}

TEST(CpuList, Formats) {
  EXPECT_EQ(format(CpuMask{}), "");
  EXPECT_EQ(format(mask_of({0})), "0");
  EXPECT_EQ(format(mask_of({0, 1, 2, 3, 8})), "0-3,8");
  EXPECT_EQ(format(mask_of({0, 2, 4, 5})), "0,2,4-5");
  EXPECT_EQ(format(mask_of({63, 64})), "63-64");
  EXPECT_EQ(format(mask_of({1022, 1023})), "1022-1023");
  CpuMask all;
  ASSERT_TRUE(parse_cpulist("0-1023", &all));
  EXPECT_EQ(format(all), "0-1023");
}

TEST(CpuList, FormatTruncatesButReportsFullLength) {
  CpuMask m = mask_of({0, 1, 2, 3, 8, 100});
  char buf[6];
  std::memset(buf, 'Z', sizeof buf);
  EXPECT_EQ(format_cpulist(m, buf, sizeof buf), std::strlen("0-3,8,100"));
  EXPECT_STREQ(buf, "0-3,8");
  EXPECT_EQ(format_cpulist(m, nullptr, 0), std::strlen("0-3,8,100"));
}

TEST(CpuList, RoundTrips) {
  // Deterministic pseudo-random masks of varying density.
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int round = 0; round < 200; ++round) {
    CpuMask m;
    const unsigned density = 1 + round % 16;
    for (int c = 0; c < kMaxCpus; ++c)
      if (next() % 16 < density) m.set(c);
    std::string text = format(m);
    CpuMask back = dirty();
    ASSERT_TRUE(parse_cpulist(text.c_str(), &back)) << text;
    EXPECT_EQ(back, m) << text;
    EXPECT_EQ(format(back), text);
  }
  // The worst case for length: every other CPU.
  CpuMask alt;
  for (int c = 0; c < kMaxCpus; c += 2) alt.set(c);
  CpuMask back;
  ASSERT_TRUE(parse_cpulist((format(alt) + "\n").c_str(), &back));
  EXPECT_EQ(back, alt);
}

}  // namespace
}  // namespace numaslab
