// The options table: parsing, defaults, bad values, and the README in step.
#include "platform/options.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "numaslab/numaslab.h"

using numaslab::detail::kOptionTable;
using numaslab::detail::options;
using numaslab::detail::options_problem;

TEST(Options, DefaultsComeFromTheTable) {
  for (const auto& o : kOptionTable) unsetenv(o.name);
  const auto& opt = options();
  EXPECT_STREQ(opt.topology, "real");
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

TEST(Options, EveryBadValueIsReported) {
  setenv("NUMASLAB_REAP_MS", "fast", 1);
  setenv("NUMASLAB_WATCH_MS", "-5", 1);
  setenv("NUMASLAB_VERBOSE", "maybe", 1);
  EXPECT_EQ(options().watch_ms, 100);
  EXPECT_FALSE(options().verbose);
  ASSERT_NE(options_problem(), nullptr);
  const std::string p = options_problem();
  EXPECT_NE(p.find("NUMASLAB_REAP_MS=\"fast\" is not a number in 1..3600000; using 2000"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find("NUMASLAB_WATCH_MS=\"-5\""), std::string::npos) << p;
  EXPECT_NE(p.find("NUMASLAB_VERBOSE=\"maybe\" is not a boolean"), std::string::npos) << p;
}

TEST(Options, BooleansAcceptWords) {
  setenv("NUMASLAB_REAP", "off", 1);
  setenv("NUMASLAB_VERBOSE", "Yes", 1);
  setenv("NUMASLAB_RSEQ", "FALSE", 1);
  setenv("NUMASLAB_LOCKCHECK", "on", 1);
  setenv("NUMASLAB_PUBLISH", "true", 1);
  const auto& opt = options();
  EXPECT_FALSE(opt.reap);
  EXPECT_TRUE(opt.verbose);
  EXPECT_FALSE(opt.rseq);
  EXPECT_TRUE(opt.lockcheck);
  EXPECT_TRUE(opt.publish);
  EXPECT_EQ(options_problem(), nullptr) << options_problem();
  EXPECT_EQ(numaslab::detail::parse_bool("no"), 0);
  EXPECT_EQ(numaslab::detail::parse_bool("1"), 1);
  EXPECT_EQ(numaslab::detail::parse_bool("2"), -1);
  EXPECT_EQ(numaslab::detail::parse_bool(""), -1);
}

TEST(Options, MisspeltNameNamesTheClosestOption) {
  setenv("NUMASLAB_TOPOLGY", "sim:2x2", 1);
  setenv("NUMASLAB_REAPMS", "100", 1);
  setenv("NUMASLAB_SOMETHING_ELSE_ENTIRELY", "1", 1);  // not a misspelling: no guess
  ASSERT_NE(options_problem(), nullptr);
  const std::string p = options_problem();
  EXPECT_NE(p.find("NUMASLAB_TOPOLGY is not a numaslab option; did you mean NUMASLAB_TOPOLOGY?"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find("NUMASLAB_REAPMS is not a numaslab option; did you mean NUMASLAB_REAP_MS?"),
            std::string::npos)
      << p;
  EXPECT_EQ(p.find("SOMETHING_ELSE"), std::string::npos) << p;
  EXPECT_EQ(numaslab::detail::option_name_distance("NUMASLAB_TOPOLGY", "NUMASLAB_TOPOLOGY"), 1);
}

namespace {
// The start-up check lives with the start-up code; every program that calls
// numaslab links it, and this reference makes this one link it too.
__attribute__((used)) int (*const g_links_start_up)(const char*) = &numaslab_init;

// Loads this test program again (listing its tests) with extra environment:
// its stderr and exit status.
std::pair<std::string, int> rerun_with(const std::string& env) {
  const std::string cmd = "env " + env + " /proc/" + std::to_string(getpid()) +
                          "/exe --gtest_list_tests 2>&1 >/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (f && std::fgets(buf, sizeof buf, f)) out += buf;
  int status = f ? pclose(f) : -1;
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}
}  // namespace

TEST(Options, BadValuesAreReportedAtStartUp) {
  auto [err, code] = rerun_with("NUMASLAB_REAP_MS=fast NUMASLAB_PUBLISH=maybe NUMASLAB_RSEQQ=0");
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(err.find("numaslab: NUMASLAB_REAP_MS=\"fast\""), std::string::npos) << err;
  EXPECT_NE(err.find("numaslab: NUMASLAB_PUBLISH=\"maybe\""), std::string::npos) << err;
  EXPECT_NE(err.find("did you mean NUMASLAB_RSEQ?"), std::string::npos) << err;
}

TEST(Options, BadTopologyStopsTheProgramAtStartUp) {
  auto [err, code] = rerun_with("NUMASLAB_TOPOLOGY=sim:0x2");
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("numaslab: cannot start: NUMASLAB_TOPOLOGY=\"sim:0x2\": "), std::string::npos)
      << err;
  auto [err2, code2] = rerun_with("NUMASLAB_TOPOLOGY=banana");
  EXPECT_EQ(code2, 1) << err2;
  EXPECT_NE(err2.find("cannot start: NUMASLAB_TOPOLOGY=\"banana\""), std::string::npos) << err2;
}

TEST(Options, ReadmeListsEveryOptionWithItsDefault) {
  std::ifstream f(std::string(NUMASLAB_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(f) << "README.md not found";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string readme = ss.str();
  for (const auto& o : kOptionTable) {
    const std::string row =
        std::string("| `") + o.name + "` | `" + o.default_value + "` | " + o.meaning + " |";
    EXPECT_NE(readme.find(row), std::string::npos) << "README lacks the row: " << row;
  }
}

TEST(Options, DebugIsACommaListOfWords) {
  EXPECT_EQ(options().debug, 0u) << "off by default";
  using numaslab::detail::kDebugOptAll;
  using numaslab::detail::kDebugOptLeaks;
  using numaslab::detail::kDebugOptPoison;
  using numaslab::detail::kDebugOptRedZone;
  using numaslab::detail::kDebugOptUser;
  const auto parse = [](const char* v, std::string* problems) {
    setenv("NUMASLAB_DEBUG", v, 1);
    numaslab::detail::Options o{};
    char text[1024];
    numaslab::detail::parse_options(&o, text, sizeof text);
    *problems = text;
    return o.debug;
  };
  std::string p;
  EXPECT_EQ(parse("redzone", &p), kDebugOptRedZone);
  EXPECT_EQ(parse("poison,user", &p), kDebugOptPoison | kDebugOptUser);
  EXPECT_EQ(parse("leaks", &p), kDebugOptLeaks);
  EXPECT_EQ(parse("all", &p), kDebugOptAll);
  EXPECT_EQ(parse("none", &p), 0u);
  EXPECT_EQ(p, "");
  EXPECT_EQ(parse("redzone,bogus", &p), kDebugOptRedZone) << "a bad word is ignored";
  EXPECT_NE(p.find("NUMASLAB_DEBUG=\"redzone,bogus\": bogus is not redzone, poison, user, leaks, "
                   "all or none; ignored"),
            std::string::npos)
      << p;
  unsetenv("NUMASLAB_DEBUG");
}
