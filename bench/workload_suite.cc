// numaslab-bench --workloads: running the suite (workload_suite.h).
#include "workload_suite.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "child_process.h"
#include "peer_bench.h"

namespace peer_bench {

const WorkloadInfo* find_workload(const std::string& name) {
  for (const WorkloadInfo& w : kWorkloads)
    if (name == w.name) return &w;
  return nullptr;
}

std::vector<std::string> suite_allocator_names() {
  std::vector<std::string> out;
  for (const AllocatorInfo& a : kAllocators)
    if (a.peer) out.push_back(a.name);
  out.push_back(kShimName);
  return out;
}

namespace {

struct Entry {
  std::string name;
  std::string preload;  // absolute path; "" for glibc
};

// One run of one workload under one allocator.
struct Record {
  std::string workload, allocator;
  std::string failure;  // "" when the program ran and exited 0
  std::string checksum;
  double seconds = 0, rss_bytes = 0;
};

void skip(const std::string& note, std::set<std::string>& notes) {
  std::fprintf(stderr, "numaslab-bench: %s\n", note.c_str());
  notes.insert(note);
}

std::vector<Entry> choose_allocators(const SuiteOptions& o, std::set<std::string>& notes) {
  auto wanted = [&](const std::string& name) {
    return o.allocators.empty() ||
           std::find(o.allocators.begin(), o.allocators.end(), name) != o.allocators.end();
  };
  std::vector<Entry> out;
  for (const AllocatorInfo& a : kAllocators) {
    if (!a.peer || !wanted(a.name)) continue;
    const std::string path = a.preload ? find_in_linker_cache(a.preload) : "";
    if (a.preload && path.empty()) {
      skip(std::string(a.name) + ": " + a.preload +
               " is not in the dynamic linker's cache (ldconfig -p); skipped",
           notes);
      continue;
    }
    out.push_back({a.name, path});
  }
  if (!wanted(kShimName)) return out;
  if (o.shim.empty()) {
    skip(std::string(kShimName) +
             ": no malloc shim — libnumaslab-malloc.so is not part of this build (CMake target "
             "numaslab_malloc_preload) and --shim was not given; the numaslab column is skipped",
         notes);
  } else if (access(o.shim.c_str(), R_OK) != 0) {
    skip(std::string(kShimName) + ": the malloc shim " + o.shim + " (" + o.shim_origin +
             ") cannot be read: " + std::strerror(errno) +
             "; the numaslab column is skipped (build the target numaslab_malloc_preload, or "
             "give --shim PATH)",
         notes);
  } else {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(o.shim, ec);
    out.push_back({kShimName, ec ? o.shim : abs.string()});
  }
  return out;
}

std::string scale_arg(double scale) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", scale);
  return buf;
}

// What one launcher run gave; the preload check adds to notes.
Record run_one(const std::string& exe, const std::string& program, const std::string& workload,
               const Entry& a, double scale, int timeout_s, std::set<std::string>& notes) {
  Record rec{workload, a.name, "", "", 0, 0};
  // The launcher itself runs without any preload; it sets it for the program.
  const ChildResult cr = run_process({exe, kLaunchFlag, a.preload, program, scale_arg(scale)},
                                     make_env({"LD_PRELOAD"}), timeout_s, false, 1);
  const Measurement m = parse_measurement(cr.lines);
  if (!cr.ok()) {
    rec.failure = "launcher " + cr.describe();
  } else if (!m.valid) {
    rec.failure = "the launcher reported no measurement";
  } else if (!WIFEXITED(m.status) || WEXITSTATUS(m.status) != 0) {
    rec.failure = describe_wait_status(m.status);
  }
  std::string malloc_from;
  std::vector<std::string> said;  // the program's stderr (and anything else it printed)
  for (const std::string& line : cr.lines) {
    if (line.rfind("checksum ", 0) == 0) {
      rec.checksum = line.substr(9);
    } else if (line.rfind("malloc ", 0) == 0) {
      malloc_from = line.substr(7);
    } else if (line.rfind("measured ", 0) != 0) {
      said.push_back(line);
    }
  }
  if (rec.failure.empty() && rec.checksum.empty()) rec.failure = "no checksum line";
  for (std::size_t i = 0; i < said.size(); ++i) {
    if (!rec.failure.empty()) rec.failure += (i == 0 ? ": " : " | ") + said[i];
    std::fprintf(stderr, "\n%s under %s: %s\n", workload.c_str(), a.name.c_str(), said[i].c_str());
  }
  if (rec.failure.empty() && !a.preload.empty() &&
      basename_real(malloc_from) != basename_real(a.preload))
    notes.insert(a.name + ": malloc resolved to " + malloc_from + ", not the preloaded " +
                 a.preload + ": its numbers are not its own");
  rec.seconds = m.seconds;
  rec.rss_bytes = m.maxrss_bytes;
  return rec;
}

// The reference checksum of a workload: glibc's first, else the first
// allocator's in report order.
const Record* reference(const std::vector<Record>& records, const std::string& workload,
                        const std::vector<std::string>& allocators) {
  for (const std::string& a : allocators)
    for (const Record& rec : records)
      if (rec.workload == workload && rec.allocator == a && rec.failure.empty()) return &rec;
  return nullptr;
}

// Checksums compared, failures listed, samples kept from the runs that passed.
void settle(const std::vector<Record>& records, SuiteResults& res) {
  std::vector<std::string> order = res.allocators;
  auto glibc = std::find(order.begin(), order.end(), "glibc");
  if (glibc != order.end()) std::rotate(order.begin(), glibc, glibc + 1);
  std::set<std::string> failures;
  for (const std::string& w : res.workloads) {
    const Record* ref = reference(records, w, order);
    if (ref) {
      res.checksums[w] = ref->checksum;
      res.checksum_sources[w] = ref->allocator;
    }
    for (const Record& rec : records) {
      if (rec.workload != w) continue;
      std::string why = rec.failure;
      if (why.empty() && ref && rec.checksum != ref->checksum)
        why = "checksum " + rec.checksum + ", expected " + ref->checksum + " (" + ref->allocator +
              "'s)";
      if (!why.empty()) {
        failures.insert(w + " under " + rec.allocator + ": " + why);
        res.failed[w][rec.allocator] = true;
        continue;
      }
      res.time[w][rec.allocator].samples.push_back(rec.seconds);
      res.rss[w][rec.allocator].samples.push_back(rec.rss_bytes);
    }
  }
  res.failures.assign(failures.begin(), failures.end());
}

}  // namespace

SuiteResults run_suite(const SuiteOptions& o, const std::string& command) {
  SuiteResults res;
  res.command = command;
  res.quick = o.quick;
  res.rounds = o.rounds > 0 ? o.rounds : (o.quick ? 3 : 5);
  res.scale = o.scale > 0 ? o.scale : (o.quick ? 0.1 : 1.0);
  std::set<std::string> notes;
  const std::vector<Entry> allocs = choose_allocators(o, notes);
  for (const Entry& a : allocs) {
    res.allocators.push_back(a.name);
    if (a.name == kShimName) res.shim = a.preload;
  }

  const std::string exe = self_exe();
  const std::string dir = o.workload_dir.empty()
                              ? (std::filesystem::path(exe).parent_path() / "workloads").string()
                              : o.workload_dir;
  std::vector<Record> records;
  for (const WorkloadInfo& w : kWorkloads) {
    if (!o.workloads.empty() &&
        std::find(o.workloads.begin(), o.workloads.end(), w.name) == o.workloads.end())
      continue;
    res.workloads.push_back(w.name);
    if (access((dir + "/wl-" + w.name).c_str(), X_OK) != 0)
      for (const Entry& a : allocs)
        records.push_back({w.name, a.name, "no program " + dir + "/wl-" + w.name, "", 0, 0});
  }

  const int timeout_s = o.quick ? 120 : 600;
  const auto t_start = std::chrono::steady_clock::now();
  for (int round = 0; round < res.rounds && !allocs.empty(); ++round) {
    std::fprintf(stderr, "round %d/%d (load %s):", round + 1, res.rounds, loadavg().c_str());
    for (std::size_t w = 0; w < res.workloads.size(); ++w) {
      const std::string& name = res.workloads[w];
      const std::string program = dir + "/wl-" + name;
      if (access(program.c_str(), X_OK) != 0) continue;
      std::fprintf(stderr, " %s", name.c_str());
      for (std::size_t k = 0; k < allocs.size(); ++k) {
        const Entry& a = allocs[(k + static_cast<std::size_t>(round) + w) % allocs.size()];
        records.push_back(run_one(exe, program, name, a, res.scale, timeout_s, notes));
      }
    }
    std::fprintf(stderr, "\n");
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  settle(records, res);
  res.notes.assign(notes.begin(), notes.end());
  return res;
}

}  // namespace peer_bench
