// The options table: parsing, defaults, bad values, and the README in step.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "platform/options.h"

using numaslab::detail::kOptionTable;
using numaslab::detail::options;
using numaslab::detail::options_problem;

TEST(Options, DefaultsComeFromTheTable) {
  for (const auto& o : kOptionTable) unsetenv(o.name);
  const auto& opt = options();
  EXPECT_STREQ(opt.topology, "real");
  EXPECT_STREQ(opt.sysfs_root, "/sys");
  EXPECT_EQ(opt.watch_ms, 100);
  EXPECT_TRUE(opt.reap);
  EXPECT_EQ(opt.reap_ms, 2000);
  EXPECT_EQ(opt.release_delay_ms, 4000);
  EXPECT_FALSE(opt.publish);
  EXPECT_FALSE(opt.lockcheck);
  EXPECT_FALSE(opt.verbose);
  EXPECT_TRUE(opt.rseq);
  EXPECT_EQ(options_problem(), nullptr);
}

TEST(Options, ValuesFromTheEnvironment) {
  setenv("NUMASLAB_TOPOLOGY", "sim:2x2", 1);
  setenv("NUMASLAB_REAP_MS", "150", 1);
  setenv("NUMASLAB_REAP", "0", 1);
  setenv("NUMASLAB_RSEQ", "0", 1);
  const auto& opt = options();
  EXPECT_STREQ(opt.topology, "sim:2x2");
  EXPECT_EQ(opt.reap_ms, 150);
  EXPECT_FALSE(opt.reap);
  EXPECT_FALSE(opt.rseq);
}

TEST(Options, BadNumberFallsBackToDefaultAndSaysSo) {
  setenv("NUMASLAB_REAP_MS", "fast", 1);
  EXPECT_EQ(options().reap_ms, 2000);
  ASSERT_NE(options_problem(), nullptr);
  EXPECT_NE(std::string(options_problem()).find("NUMASLAB_REAP_MS=\"fast\""), std::string::npos);
}

TEST(Options, ReadmeListsEveryOptionWithItsDefault) {
  std::ifstream f(std::string(NUMASLAB_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(f) << "README.md not found";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string readme = ss.str();
  for (const auto& o : kOptionTable) {
    const std::string row = std::string("| `") + o.name + "` | `" + o.default_value + "` | " + o.meaning + " |";
    EXPECT_NE(readme.find(row), std::string::npos) << "README lacks the row: " << row;
  }
}
