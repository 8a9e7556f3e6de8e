// slabinfo 2.1: the text format line by line, the JSON form parsed back, and
// tuning through the API and through slabinfo lines.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cache/registry.h"
#include "numaslab/numaslab.h"
#include "page/page_map.h"
#include "support/handles.h"
#include "support/report.h"

namespace {

std::string slabinfo() {
  std::string s(1 << 20, '\0');
  std::size_t n = numaslab_slabinfo(s.data(), s.size());
  EXPECT_LT(n, s.size());
  s.resize(n);
  return s;
}

nlohmann::json slabinfo_json() {
  return nlohmann::json::parse(numaslab::test_support::slabinfo_json());
}

const std::regex kLine(
    R"(^(\S+) *(\d+) +(\d+) +(\d+) +(\d+) +(\d+) : tunables +(\d+) +(\d+) +(\d+) : slabdata +(\d+) +(\d+) +(\d+) : globalstat +(\d+) +(\d+) +(\d+) +(\d+) \t\t\t\t *(\d+) +(\d+) +(\d+) +(\d+) +(\d+) : cpustat +(\d+) +(\d+) +(\d+) +(\d+)$)");

struct Row {
  // The 24 numbers in order: 0 active_objs 1 num_objs 2 objsize 3 objperslab
  // 4 pagesperslab 5-7 tunables 8 active_slabs 9 num_slabs 10 sharedavail
  // 11-19 globalstat 20-23 cpustat.
  std::vector<unsigned long> v;
};

std::map<std::string, Row> parse(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "slabinfo - version: 2.1 (statistics)");
  std::getline(in, line);
  EXPECT_EQ(line,
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
            " : tunables <limit> <batchcount> <sharedfactor>"
            " : slabdata <active_slabs> <num_slabs> <sharedavail>"
            " : globalstat <listallocs> <maxobjs> <grown> <reaped> <error> <maxfreeable>"
            " <nodeallocs> <remotefrees> <alienoverflow>"
            " : cpustat <allochit> <allocmiss> <freehit> <freemiss>");
  std::map<std::string, Row> rows;
  while (std::getline(in, line)) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, kLine)) << "bad line: [" << line << "]";
    if (m.empty()) continue;
    // "%-17s %6lu": the name is padded to 17 columns, then a space.
    const std::string name = m[1];
    if (name.size() < 17) {
      EXPECT_EQ(line.substr(0, 18), name + std::string(18 - name.size(), ' ')) << line;
    }
    Row r;
    for (std::size_t i = 2; i < m.size(); ++i) r.v.push_back(std::stoul(m[i]));
    rows[m[1]] = r;
  }
  return rows;
}

TEST(Slabinfo, TextFormatLineByLine) {
  setenv("NUMASLAB_REAP", "0", 1);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  ASSERT_EQ(numaslab_bind_thread_to_cpu(0), 0);
  numaslab_cache* c = numaslab_cache_create("si-objects", 200, 0, 0, nullptr);
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(numaslab_cache_alloc(c));
  for (int i = 0; i < 10; ++i) v.push_back(numaslab_cache_alloc_node(c, 1));
  auto rows = parse(slabinfo());
  ASSERT_TRUE(rows.count("si-objects"));
  ASSERT_TRUE(rows.count("kmem_cache"));
  ASSERT_TRUE(rows.count("kmalloc-64"));
  const auto& r = rows["si-objects"].v;
  const auto* ic = numaslab::test_support::raw(c);
  // active_objs counts objects out of slabs: ours plus the CPU array's.
  EXPECT_GE(r[0], 1010u);
  EXPECT_EQ(r[1], r[9] * r[3]);          // num_objs = num_slabs * objperslab
  EXPECT_EQ(r[2], ic->geo.buffer_size);  // objsize is the stride
  EXPECT_EQ(r[3], ic->geo.num);
  EXPECT_EQ(r[4], 1u << ic->geo.order);
  EXPECT_EQ(r[5], 256u);    // limit for 200-byte objects
  EXPECT_EQ(r[6], 60u);     // batchcount
  EXPECT_EQ(r[7], 8u);      // shared factor
  EXPECT_LE(r[8], r[9]);    // active_slabs <= num_slabs
  EXPECT_GE(r[11], 1010u);  // listallocs
  EXPECT_GT(r[13], 0u);     // grown
  EXPECT_EQ(r[17], 10u);    // nodeallocs
  EXPECT_GT(r[20], 0u);     // allochit
  EXPECT_GT(r[21], 0u);     // allocmiss
  for (void* p : v) numaslab_cache_free(c, p);
  auto after = parse(slabinfo());
  EXPECT_EQ(after["si-objects"].v[18], 10u);  // remotefrees: the node-1 objects
  EXPECT_GT(after["si-objects"].v[22], 0u);   // freehit
}

TEST(Slabinfo, JsonCarriesTheSameDataAndMore) {
  setenv("NUMASLAB_REAP", "0", 1);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab_cache* c = numaslab_cache_create("si-json", 64, 0, 0, nullptr);
  std::vector<void*> v;
  for (int i = 0; i < 500; ++i) v.push_back(numaslab_cache_alloc(c));
  auto rows = parse(slabinfo());
  nlohmann::json j = slabinfo_json();
  EXPECT_EQ(j["topology"], "sim:2x2");
  EXPECT_EQ(j["nodes"], 2);
  EXPECT_EQ(j["possible_cpus"], 4);
  EXPECT_EQ(j["online"].size(), 4u);
  EXPECT_EQ(j["node_bytes"].size(), 2u);
  bool found = false;
  for (const auto& cj : j["caches"]) {
    const std::string name = cj["name"];
    ASSERT_TRUE(rows.count(name)) << name;
    const auto& r = rows[name].v;
    EXPECT_EQ(cj["num_objs"].get<unsigned long>(), r[1]) << name;
    EXPECT_EQ(cj["objsize"].get<unsigned long>(), r[2]) << name;
    EXPECT_EQ(cj["limit"].get<unsigned long>(), r[5]) << name;
    EXPECT_EQ(cj["num_slabs"].get<unsigned long>(), r[9]) << name;
    EXPECT_EQ(cj["allochit"].get<unsigned long>(), r[20]) << name;
    EXPECT_EQ(cj["per_cpu"].size(), 4u);
    if (name == "si-json") {
      found = true;
      unsigned long node_slabs = 0;
      for (const auto& nj : cj["per_node"])
        node_slabs += nj["partial_slabs"].get<unsigned long>() +
                      nj["full_slabs"].get<unsigned long>() + nj["free_slabs"].get<unsigned long>();
      EXPECT_EQ(node_slabs, r[9]);
    }
  }
  EXPECT_TRUE(found);
  for (void* p : v) numaslab_cache_free(c, p);
}

TEST(Tune, ChangesArraysAndRejectsBadValues) {
  setenv("NUMASLAB_REAP", "0", 1);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab_cache* c = numaslab_cache_create("tune-me", 128, 0, 0, nullptr);
  auto tunables = [&] {
    auto r = parse(slabinfo())["tune-me"].v;
    return std::vector<unsigned long>{r[5], r[6], r[7]};
  };
  EXPECT_EQ(numaslab_tune("tune-me", 32, 16, 2), 0);
  EXPECT_EQ(tunables(), (std::vector<unsigned long>{32, 16, 2}));
  const auto* ic = numaslab::test_support::raw(c);
  for (int cpu = 0; cpu < 4; ++cpu) {
    auto& s = const_cast<numaslab::detail::Cache*>(ic)->slot(cpu);
    numaslab::detail::LockGuard<numaslab::detail::SpinLock> g(s.lock);
    ASSERT_NE(s.base, nullptr);
    EXPECT_EQ(s.size(), 16u) << "a new entries block holds one batch (it grows with the capacity)";
    EXPECT_EQ(s.batchcount(), 16u);
  }
  EXPECT_EQ(numaslab_slabinfo_write("tune-me 64 8 1\n"), 0);
  EXPECT_EQ(tunables(), (std::vector<unsigned long>{64, 8, 1}));

  const char* bad[] = {
      "",
      "tune-me",
      "tune-me 10 5",
      "tune-me a b c",
      "tune-me 10 20 1",
      "tune-me 0 0 0",
      "tune-me 10 5 1 9",
      "tune-me 10 5 -1",
      "tune-me 1000000 5 1",
      "tune-me 10 5 100000",
      " 10 5 1",
      "tune-me 10 5 1                                                                "
      "                                                                   "};
  for (const char* line : bad) {
    EXPECT_EQ(numaslab_slabinfo_write(line), -EINVAL) << "[" << line << "]";
    EXPECT_EQ(tunables(), (std::vector<unsigned long>{64, 8, 1})) << line;
  }
  EXPECT_EQ(numaslab_slabinfo_write("no-such-cache 10 5 1"), -ENOENT);
  EXPECT_EQ(numaslab_tune("tune-me", 10, 11, 1), -EINVAL);
  EXPECT_EQ(numaslab_tune(nullptr, 10, 5, 1), -EINVAL);
  EXPECT_EQ(tunables(), (std::vector<unsigned long>{64, 8, 1}));
  char buf[4096];
  EXPECT_EQ(numaslab_verify(buf, sizeof buf), 0) << buf;
}

TEST(Tune, UnderConcurrentLoad) {
  setenv("NUMASLAB_REAP", "0", 1);
  ASSERT_EQ(numaslab_init("sim:2x2"), 0);
  numaslab_cache* c = numaslab_cache_create("tune-load", 96, 0, 0, nullptr);
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      numaslab_bind_thread_to_cpu(t);
      std::vector<void*> held;
      unsigned x = 12345u + t;
      while (!stop.load(std::memory_order_relaxed)) {
        x = x * 1103515245u + 12345u;
        if (held.size() < 2000 && (x >> 16) % 3 != 0) {
          void* p = (x >> 20) % 4 == 0 ? numaslab_kmalloc(96) : numaslab_cache_alloc(c);
          ASSERT_NE(p, nullptr);
          *static_cast<unsigned*>(p) = x;
          held.push_back(p);
        } else if (!held.empty()) {
          void* p = held.back();
          held.pop_back();
          if (numaslab_ksize(p) == 96 && numaslab_node_of(p) >= 0 &&
              numaslab::test_support::raw(c) ==
                  static_cast<numaslab::detail::Cache*>(numaslab::detail::page_lookup(p)->owner))
            numaslab_cache_free(c, p);
          else
            numaslab_kfree(p);
        }
      }
      for (void* p : held) {
        if (static_cast<numaslab::detail::Cache*>(numaslab::detail::page_lookup(p)->owner) ==
            numaslab::test_support::raw(c))
          numaslab_cache_free(c, p);
        else
          numaslab_kfree(p);
      }
    });
  }
  const long settings[][3] = {{16, 8, 1}, {120, 60, 8}, {1, 1, 0}, {200, 100, 4}, {54, 27, 8}};
  for (int round = 0; round < 40; ++round) {
    const long* s = settings[round % 5];
    ASSERT_EQ(numaslab_tune("tune-load", s[0], s[1], s[2]), 0);
    ASSERT_EQ(numaslab_slabinfo_write("kmalloc-96 32 16 2"), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  for (auto& w : workers) w.join();
  char buf[8192];
  EXPECT_EQ(numaslab_verify(buf, sizeof buf), 0) << buf;
  EXPECT_EQ(numaslab_cache_destroy(c), 0);
}

}  // namespace
