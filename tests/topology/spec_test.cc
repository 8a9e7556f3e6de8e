#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "topology/topology.h"

namespace numaslab {

using detail::parse_topology_spec;
using detail::TopologyMode;
using detail::TopologySpec;
namespace {

struct Parsed {
  bool ok;
  std::unique_ptr<TopologySpec> spec;
  std::string err;
};

Parsed parse(const char* text) {
  Parsed p{false, std::make_unique<TopologySpec>(), ""};
  char err[256];
  std::memset(err, 'Z', sizeof err);
  p.ok = parse_topology_spec(text, p.spec.get(), err, sizeof err);
  EXPECT_NE(std::memchr(err, '\0', sizeof err), nullptr);
  p.err = err;
  return p;
}

TEST(TopologySpec, RealForms) {
  for (const char* text : {static_cast<const char*>(nullptr), "", "real"}) {
    Parsed p = parse(text);
    EXPECT_TRUE(p.ok);
    EXPECT_EQ(p.spec->mode, TopologyMode::kReal);
    EXPECT_EQ(p.err, "");
  }
}

TEST(TopologySpec, SimForms) {
  struct Case {
    const char* text;
    int nodes, per_node;
  } cases[] = {{"sim:2x2", 2, 2},     {"sim:4x2", 4, 2},       {"sim:1x1", 1, 1},
               {"sim:64x16", 64, 16}, {"sim:1x1024", 1, 1024}, {"sim:3x5", 3, 5}};
  for (const auto& c : cases) {
    Parsed p = parse(c.text);
    ASSERT_TRUE(p.ok) << c.text << ": " << p.err;
    EXPECT_EQ(p.spec->mode, TopologyMode::kSim);
    EXPECT_EQ(p.spec->sim_nodes, c.nodes);
    EXPECT_EQ(p.spec->sim_cpus_per_node, c.per_node);
  }
}

TEST(TopologySpec, MapForms) {
  Parsed p = parse("map:0=0,1=1");
  ASSERT_TRUE(p.ok) << p.err;
  EXPECT_EQ(p.spec->mode, TopologyMode::kMap);
  EXPECT_EQ(p.spec->map_cpus, 2);
  EXPECT_EQ(p.spec->map_node[0], 0);
  EXPECT_EQ(p.spec->map_node[1], 1);
  EXPECT_EQ(p.spec->map_node[2], -1);

  p = parse("map:3=1,2=1,1=0,0=0");
  ASSERT_TRUE(p.ok) << p.err;
  EXPECT_EQ(p.spec->map_cpus, 4);
  EXPECT_EQ(p.spec->map_node[0], 0);
  EXPECT_EQ(p.spec->map_node[3], 1);

  // A gap in the CPU ids is the spec's business to allow; init rejects it
  // against the machine's possible CPUs.
  p = parse("map:0=0,2=0");
  ASSERT_TRUE(p.ok) << p.err;
  EXPECT_EQ(p.spec->map_cpus, 3);
  EXPECT_EQ(p.spec->map_node[1], -1);

  p = parse("map:1023=0");
  ASSERT_TRUE(p.ok) << p.err;
  EXPECT_EQ(p.spec->map_cpus, 1024);
  EXPECT_EQ(p.spec->map_node[1023], 0);

  std::string all = "map:";
  for (int c = 0; c < kMaxCpus; ++c)
    all += (c ? "," : "") + std::to_string(c) + "=" + std::to_string(c % kMaxNodes);
  p = parse(all.c_str());
  ASSERT_TRUE(p.ok) << p.err;
  EXPECT_EQ(p.spec->map_cpus, kMaxCpus);
  EXPECT_EQ(p.spec->map_node[kMaxCpus - 1], (kMaxCpus - 1) % kMaxNodes);
}

TEST(TopologySpec, RejectsBadForms) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"sim:0x2", "node count must be 1..64"},
      {"sim:65x1", "node count must be 1..64"},
      {"sim:99999999999999x1", "node count must be 1..64"},
      {"sim:2x0", "CPUs per node must be at least 1"},
      {"sim:64x17", "more than the 1024 CPUs"},
      {"sim:1x1025", "more than the 1024 CPUs"},
      {"sim:2x99999999999999", "more than the 1024 CPUs"},
      {"sim:2x", "expected sim:NxM"},
      {"sim:x2", "expected sim:NxM"},
      {"sim:", "expected sim:NxM"},
      {"sim:2y2", "expected sim:NxM"},
      {"sim:2x2x", "expected sim:NxM"},
      {"sim:2x2 ", "expected sim:NxM"},
      {"sim:-1x2", "expected sim:NxM"},
      {"sim:2X2", "expected sim:NxM"},
      {"map:", "empty CPU map"},
      {"map:0=0,0=1", "CPU 0 listed twice"},
      {"map:0=1", "node 0 has no CPUs"},
      {"map:0=0,1=2", "node 1 has no CPUs"},
      {"map:0=0,", "malformed entry 2"},
      {"map:0=0,,1=1", "malformed entry 2"},
      {"map:0", "malformed entry 1"},
      {"map:0=", "malformed entry 1"},
      {"map:=0", "malformed entry 1"},
      {"map:0=0;1=1", "malformed entry 1"},
      {"map:0=a", "malformed entry 1"},
      {"map:1024=0", "CPU 1024 must be < 1024"},
      {"map:0=64", "node 64 must be < 64"},
      {"banana", "unknown mode"},
      {"REAL", "unknown mode"},
      {"real ", "unknown mode"},
      {"sim", "unknown mode"},
      {"map", "unknown mode"},
  };
  for (const auto& c : cases) {
    Parsed p = parse(c.text);
    EXPECT_FALSE(p.ok) << c.text;
    EXPECT_NE(p.err.find(c.reason), std::string::npos) << c.text << " -> " << p.err;
    EXPECT_NE(p.err.find(std::string("\"") + c.text + "\""), std::string::npos) << p.err;
    EXPECT_EQ(p.err.find('\n'), std::string::npos) << p.err;
    // A failed parse leaves a default spec behind, not a half-filled one.
    EXPECT_EQ(p.spec->mode, TopologyMode::kReal) << c.text;
    EXPECT_EQ(p.spec->map_cpus, 0) << c.text;
  }
}

TEST(TopologySpec, ExactMessage) {
  Parsed p = parse("sim:0x2");
  EXPECT_EQ(p.err, "bad topology \"sim:0x2\": node count must be 1..64");
}

TEST(TopologySpec, LongSpecIsClippedSoTheReasonSurvives) {
  std::string text = "map:";
  for (int c = 0; c < 300; ++c) text += std::to_string(c) + "=0,";
  text += "5=0";
  Parsed p = parse(text.c_str());
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.err.find("CPU 5 listed twice"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("...\""), std::string::npos) << p.err;
}

TEST(TopologySpec, SmallOrMissingErrorBuffer) {
  auto spec = std::make_unique<TopologySpec>();
  char err[8];
  std::memset(err, 'Z', sizeof err);
  EXPECT_FALSE(parse_topology_spec("banana", spec.get(), err, sizeof err));
  EXPECT_STREQ(err, "bad top");
  EXPECT_FALSE(parse_topology_spec("banana", spec.get(), nullptr, 0));
  EXPECT_FALSE(parse_topology_spec("banana", spec.get(), nullptr, 100));
  EXPECT_TRUE(parse_topology_spec("sim:1x2", spec.get(), nullptr, 0));
}

TEST(TopologySpec, SuccessClearsStaleError) {
  auto spec = std::make_unique<TopologySpec>();
  char err[64] = "stale";
  EXPECT_TRUE(parse_topology_spec("real", spec.get(), err, sizeof err));
  EXPECT_STREQ(err, "");
}

}  // namespace
}  // namespace numaslab
