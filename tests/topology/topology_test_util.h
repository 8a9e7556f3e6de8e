// Shared by the topology tests: helpers that build a Topology (from a fake
// sysfs, tests/fakes/fake_platform.h, or /sys) and check the header's
// invariants.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "fakes/fake_platform.h"
#include "topology/topology.h"

namespace numaslab::topology_test {

using detail::CpuMask;
using detail::parse_topology_spec;
using detail::Topology;
using detail::TopologySpec;

namespace stdfs = std::filesystem;

using testing_fakes::FakeSysfs;

inline CpuMask cpulist(const char* text) {
  CpuMask m;
  EXPECT_TRUE(parse_cpulist(text, &m)) << text;
  return m;
}

inline std::unique_ptr<TopologySpec> spec_of(const char* text) {
  auto spec = std::make_unique<TopologySpec>();
  char err[256];
  EXPECT_TRUE(parse_topology_spec(text, spec.get(), err, sizeof err)) << err;
  return spec;
}

// Builds a topology (from the fake sysfs if one is alive, else from /sys); on
// failure returns nullptr and leaves the reason in *err.
inline std::unique_ptr<Topology> build(const char* spec, std::string* err = nullptr) {
  auto t = std::make_unique<Topology>();
  char buf[256];
  if (!t->init(*spec_of(spec), buf, sizeof buf)) {
    if (err)
      *err = buf;
    else
      ADD_FAILURE() << "init(" << spec << ") failed: " << buf;
    EXPECT_EQ(t->possible_cpus(), 0);
    return nullptr;
  }
  return t;
}

inline std::string build_error(const char* spec) {
  std::string err;
  EXPECT_EQ(build(spec, &err), nullptr) << spec;
  EXPECT_EQ(err.find('\n'), std::string::npos);
  return err;
}

// The structural invariants of the header contract.
inline void expect_consistent(const Topology& t) {
  const CpuMask online = t.online_mask();
  CpuMask seen;
  for (int n = 0; n < t.num_nodes(); ++n) {
    int online_here = 0;
    for (int c = t.node_cpus(n).first(); c >= 0; c = t.node_cpus(n).next(c + 1)) {
      EXPECT_LT(c, t.possible_cpus());
      EXPECT_EQ(t.cpu_to_node(c), n) << "cpu " << c;
      EXPECT_FALSE(seen.test(c)) << "cpu " << c << " on two nodes";
      seen.set(c);
      online_here += online.test(c);
    }
    EXPECT_EQ(t.online_cpus_on_node(n), online_here) << "node " << n;
  }
  EXPECT_EQ(seen.count(), t.possible_cpus());
  EXPECT_TRUE(seen.last() + 1 == t.possible_cpus());
  EXPECT_EQ(online.count(), t.online_cpus());
  for (int c = 0; c < kMaxCpus; ++c) EXPECT_EQ(t.cpu_online(c), online.test(c)) << c;
  for (int n = t.num_nodes(); n < kMaxNodes; ++n) EXPECT_TRUE(t.node_cpus(n).empty());
}

}  // namespace numaslab::topology_test
