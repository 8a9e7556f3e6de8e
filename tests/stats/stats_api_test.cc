// numaslab_cache_stats and numaslab_stats: the numbers slabinfo prints, from
// code, and process totals that add up.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "numaslab/numaslab.h"
#include "support/init.h"
#include "support/report.h"

namespace {

nlohmann::json json_of(const char* cache) {
  const nlohmann::json all = nlohmann::json::parse(numaslab::test_support::slabinfo_json());
  for (const auto& c : all.at("caches"))
    if (c.at("name").get<std::string>() == cache) return c;
  return {};
}

// No reaper: it would move objects between two readings.
using numaslab::test_support::init_no_reaper;

TEST(StatsApi, CacheStatsMatchSlabinfo) {
  ASSERT_NO_FATAL_FAILURE(init_no_reaper("sim:2x2"));
  numaslab_cache* c = numaslab_cache_create("stats_obj", 200, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 500; ++i) objs.push_back(numaslab_cache_alloc(c));
  for (int i = 0; i < 20; ++i) objs.push_back(numaslab_cache_alloc_node(c, 1));

  struct numaslab_cache_stats s;
  ASSERT_EQ(numaslab_cache_stats(c, &s), 0);
  EXPECT_EQ(s.object_size, 200u);
  EXPECT_GE(s.buffer_size, 200u);
  EXPECT_GE(s.active_objs, 520u);
  EXPECT_LE(s.active_objs, s.num_objs);
  EXPECT_EQ(s.num_objs, s.num_slabs * s.objects_per_slab);
  EXPECT_EQ(s.slab_bytes, s.num_slabs * s.pages_per_slab * 4096ull);
  EXPECT_GT(s.limit, 0u);
  EXPECT_GT(s.batchcount, 0u);
  EXPECT_GE(s.alloc_hit + s.alloc_miss, 500u);
  EXPECT_GE(s.grown, 1u);

  const auto j = json_of("stats_obj");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(s.active_objs, j.at("active_objs").get<unsigned long long>());
  EXPECT_EQ(s.num_objs, j.at("num_objs").get<unsigned long long>());
  EXPECT_EQ(s.num_slabs, j.at("num_slabs").get<unsigned long long>());
  EXPECT_EQ(s.buffer_size, j.at("objsize").get<unsigned long long>());
  EXPECT_EQ(s.objects_per_slab, j.at("objperslab").get<unsigned>());
  EXPECT_EQ(s.alloc_hit, j.at("allochit").get<unsigned long long>());
  EXPECT_EQ(s.free_hit, j.at("freehit").get<unsigned long long>());
  EXPECT_EQ(s.limit, j.at("limit").get<unsigned>());

  for (void* p : objs) numaslab_cache_free(c, p);
  ASSERT_EQ(numaslab_cache_stats(c, &s), 0);
  EXPECT_GE(s.free_hit + s.free_miss + s.remote_frees, 520u);  // remote: to another node
  EXPECT_GE(s.remote_frees, 20u);
  // Freed objects in the arrays still count as active until a shrink.
  EXPECT_EQ(numaslab_cache_shrink(c), 0);
  ASSERT_EQ(numaslab_cache_stats(c, &s), 0);
  EXPECT_EQ(s.active_objs, 0u);
  EXPECT_EQ(s.num_slabs, 0u);
  EXPECT_EQ(s.slab_bytes, 0u);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(StatsApi, ProcessTotalsAddUp) {
  ASSERT_NO_FATAL_FAILURE(init_no_reaper("sim:2x2"));
  numaslab_cache* c = numaslab_cache_create("stats_total", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 300; ++i) objs.push_back(numaslab_cache_alloc(c));
  void* big = numaslab_kmalloc(100000);
  ASSERT_NE(big, nullptr);

  struct numaslab_stats t;
  ASSERT_EQ(numaslab_stats(&t), 0);
  EXPECT_EQ(t.nodes, 2);
  EXPECT_EQ(t.possible_cpus, 4);
  EXPECT_EQ(t.online_cpus, 4);
  std::string text(1 << 20, '\0');
  text.resize(numaslab_slabinfo(text.data(), text.size()));
  unsigned long long lines = 0;
  for (char ch : text) lines += ch == '\n';
  EXPECT_EQ(t.caches, lines - 2);  // two header lines
  EXPECT_GE(t.active_objs, 300u);
  EXPECT_LE(t.active_objs, t.num_objs);
  EXPECT_GE(t.bytes_in_use, t.slab_bytes);  // slabs plus large blocks
  EXPECT_GE(t.bytes_in_use, 100000u);
  EXPECT_GE(t.segments, 1u);
  size_t node_bytes = numaslab_node_bytes(0) + numaslab_node_bytes(1);
  EXPECT_EQ(t.bytes_in_use, node_bytes);

  struct numaslab_cache_stats s;
  ASSERT_EQ(numaslab_cache_stats(c, &s), 0);
  EXPECT_GE(t.active_objs, s.active_objs);
  EXPECT_GE(t.alloc_hit, s.alloc_hit);

  for (void* p : objs) numaslab_cache_free(c, p);
  numaslab_kfree(big);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
  struct numaslab_stats after;
  ASSERT_EQ(numaslab_stats(&after), 0);
  EXPECT_EQ(after.caches, t.caches - 1);
}

TEST(StatsApi, NullArgumentsAreRefused) {
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  struct numaslab_cache_stats s;
  EXPECT_EQ(numaslab_cache_stats(nullptr, &s), -EINVAL);
  numaslab_cache* c = numaslab_cache_create("stats_null", 32, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(numaslab_cache_stats(c, nullptr), -EINVAL);
  EXPECT_EQ(numaslab_stats(nullptr), -EINVAL);
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

TEST(StatsApi, VersionMatchesTheHeader) {
  EXPECT_STREQ(numaslab_version(), NUMASLAB_VERSION);
  char expect[32];
  std::snprintf(expect, sizeof expect, "%d.%d.%d", NUMASLAB_VERSION_MAJOR, NUMASLAB_VERSION_MINOR,
                NUMASLAB_VERSION_PATCH);
  EXPECT_STREQ(numaslab_version(), expect);
  EXPECT_EQ(NUMASLAB_VERSION_NUMBER,
            NUMASLAB_VERSION_MAJOR * 10000 + NUMASLAB_VERSION_MINOR * 100 + NUMASLAB_VERSION_PATCH);
}

}  // namespace
