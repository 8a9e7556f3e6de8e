// Tests for base/check.h: NS_CHECK / NS_ASSERT / NS_EXPENSIVE, fatal(), warn().
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "base/check.h"

namespace numaslab::detail {
namespace {

int g_calls = 0;
int counted(int v) {
  ++g_calls;
  return v;
}

class CheckDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST(Check, PassingCheckDoesNotEvaluateMessageArguments) {
  g_calls = 0;
  NS_CHECK(counted(1) == 1, "value %d", counted(99));
  EXPECT_EQ(g_calls, 1) << "condition evaluated exactly once, message arguments never";
}

TEST(Check, ConditionEvaluatedInEveryBuild) {
  g_calls = 0;
  for (int i = 0; i < 5; ++i) NS_CHECK(counted(i) >= 0, "negative");
  EXPECT_EQ(g_calls, 5);
}

TEST(Check, AssertEvaluatesOnlyInDebug) {
  g_calls = 0;
  NS_ASSERT(counted(1) == 1);
  EXPECT_EQ(g_calls, kDebug ? 1 : 0);
}

TEST(Check, ExpensiveOnlyWhenSwitchedOn) {
  g_calls = 0;
  g_expensive_checks.store(false);
  NS_EXPENSIVE(counted(1) == 1);
  EXPECT_EQ(g_calls, 0);
  g_expensive_checks.store(true);
  NS_EXPENSIVE(counted(1) == 1);
  EXPECT_EQ(g_calls, kDebug ? 1 : 0);
  g_expensive_checks.store(false);
}

TEST_F(CheckDeathTest, CheckFailurePrintsOneFatalLineAndAborts) {
  EXPECT_EXIT(NS_CHECK(counted(2) == 3, "cache '%s': object %p freed twice (%d)", "dentry",
                       reinterpret_cast<void*>(0x1000), 7),
              ::testing::KilledBySignal(SIGABRT),
              "^numaslab: fatal: cache 'dentry': object 0x1000 freed twice \\(7\\)\n$");
}

TEST_F(CheckDeathTest, FatalFormatsLikeFormat) {
  const char* volatile null_str = nullptr;
  EXPECT_DEATH(fatal("%-6s|%05u|%zu|%s", "ab", 42u, std::size_t{9}, null_str),
               "^numaslab: fatal: ab    \\|00042\\|9\\|\\(null\\)\n$");
}

TEST_F(CheckDeathTest, VeryLongMessageIsTruncatedButStillOneLine) {
  const std::string big(2000, 'x');
  // The line is cut to fit the fixed buffer and still ends in a newline.
  EXPECT_EXIT(fatal("%s", big.c_str()), ::testing::KilledBySignal(SIGABRT),
              "^numaslab: fatal: x{400,510}\n$");
}

TEST_F(CheckDeathTest, AssertNamesExpressionFileAndLine) {
  if (!kDebug) GTEST_SKIP() << "NS_ASSERT is compiled out of release builds";
  int two = 2;
  EXPECT_DEATH(NS_ASSERT(two == 3), "numaslab: fatal: assertion failed: two == 3 at .*check_test\\.cc:[0-9]+");
}

TEST_F(CheckDeathTest, ExpensiveCheckFires) {
  if (!kDebug) GTEST_SKIP() << "NS_EXPENSIVE is compiled out of release builds";
  EXPECT_DEATH(
      {
        g_expensive_checks.store(true);
        NS_EXPENSIVE(1 + 1 == 3);
      },
      "assertion failed: 1 \\+ 1 == 3");
}

TEST(Warn, WritesOneNonFatalLine) {
  ::testing::internal::CaptureStderr();
  warn("cache '%s' still has %llu objects", "busy", 3ULL);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "numaslab: cache 'busy' still has 3 objects\n");
}

}  // namespace
}  // namespace numaslab::detail
