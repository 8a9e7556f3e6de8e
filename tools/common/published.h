// Reading the statistics a numaslab process publishes (src/stats/publish.h):
// map /dev/shm/numaslab.<pid>, copy the JSON under the seqlock, parse it.
//
// The file is untrusted input: anyone can create /dev/shm/numaslab.<pid>.
// It is opened without blocking (a FIFO at the path must not hang the
// reader), must be a regular file of a sane size, and the JSON's counts are
// checked against numaslab's limits (validate()) before a viewer sizes
// anything by them. Names are shown with control characters escaped.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/config.h"
#include "stats/publish.h"

namespace numaslab::tools {

class PublishedStats {
 public:
  explicit PublishedStats(int pid) {
    char path[64];
    numaslab::detail::publish_path(pid, path, sizeof path);
    path_ = path;
    int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
      throw std::runtime_error("no statistics published at " + path_ +
                               " (is the process running with NUMASLAB_PUBLISH=1?)");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::size_t>(st.st_size) < sizeof(Header) ||
        static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
      ::close(fd);
      throw std::runtime_error(path_ + " is not a numaslab statistics file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) throw std::runtime_error("cannot map " + path_);
    base_ = p;
    if (std::memcmp(header()->magic, numaslab::detail::kPublishMagic, 8) != 0)
      throw std::runtime_error(path_ + " is not a numaslab statistics file");
  }
  ~PublishedStats() {
    if (base_) ::munmap(base_, size_);
  }
  PublishedStats(const PublishedStats&) = delete;
  PublishedStats& operator=(const PublishedStats&) = delete;

  // A consistent copy of the JSON text, or nullopt if the writer kept it busy.
  std::optional<std::string> text() const {
    const Header* h = header();
    for (int attempt = 0; attempt < 1000; ++attempt) {
      std::uint64_t s1 = h->seq.load(std::memory_order_acquire);
      if (s1 & 1) {
        ::usleep(100);
        continue;
      }
      std::uint64_t len = h->length;
      if (len > size_ - sizeof(Header)) continue;
      std::string out(reinterpret_cast<const char*>(h + 1), len);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (h->seq.load(std::memory_order_relaxed) == s1) return out;
    }
    return std::nullopt;
  }
  // The parsed and validated statistics; throws with a reason otherwise.
  nlohmann::json json() const {
    auto t = text();
    if (!t) throw std::runtime_error("statistics are being rewritten too often to read");
    nlohmann::json j = nlohmann::json::parse(*t, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error(path_ + ": the statistics are not valid JSON");
    validate(j, path_);
    return j;
  }

  // The published file holds at most kPublishBytes of text; anything much
  // larger was not written by numaslab.
  static constexpr std::size_t kMaxFileBytes = numaslab::detail::kPublishBytes + (1u << 20);

  // Checks every count a viewer sizes a table by, and the type of every
  // field it prints, against numaslab's own limits.
  static void validate(const nlohmann::json& j, const std::string& what) {
    auto bad = [&](const std::string& why) {
      throw std::runtime_error(what + ": not a valid numaslab statistics file (" + why + ")");
    };
    auto count = [&](const nlohmann::json& o, const char* key, long lo, long hi) -> long {
      auto it = o.find(key);
      if (it == o.end() || !it->is_number_integer()) bad(std::string("no integer \"") + key + "\"");
      const long v = it->get<long>();
      if (v < lo || v > hi)
        bad(std::string("\"") + key + "\" = " + std::to_string(v) + " is outside " +
            std::to_string(lo) + ".." + std::to_string(hi));
      return v;
    };
    auto array = [&](const nlohmann::json& o, const char* key,
                     std::size_t max) -> const nlohmann::json& {
      auto it = o.find(key);
      if (it == o.end() || !it->is_array()) bad(std::string("no array \"") + key + "\"");
      if (it->size() > max)
        bad(std::string("\"") + key + "\" has " + std::to_string(it->size()) +
            " entries, at most " + std::to_string(max) + " expected");
      return *it;
    };
    auto uint_fields = [&](const nlohmann::json& o, std::initializer_list<const char*> keys) {
      for (const char* k : keys) {
        auto it = o.find(k);
        if (it == o.end() || !it->is_number_unsigned())
          bad(std::string("no counter \"") + k + "\"");
      }
    };
    if (!j.is_object()) bad("not a JSON object");
    const long nodes = count(j, "nodes", 1, numaslab::kMaxNodes);
    const long cpus = count(j, "possible_cpus", 1, numaslab::kMaxCpus);
    count(j, "pid", 0, 1L << 31);
    if (!j.contains("topology") || !j["topology"].is_string() ||
        j["topology"].get_ref<const std::string&>().size() > 256)
      bad("no topology string");
    for (const auto& c : array(j, "online", static_cast<std::size_t>(cpus)))
      if (!c.is_number_integer() || c.get<long>() < 0 || c.get<long>() >= cpus)
        bad("bad online CPU");
    for (const auto& n : array(j, "node_bytes", static_cast<std::size_t>(nodes))) {
      count(n, "node", 0, nodes - 1);
      uint_fields(n, {"in_use", "free"});
    }
    if (!j.contains("reaper") || !j["reaper"].is_object()) bad("no reaper object");
    uint_fields(j["reaper"], {"visits", "slabs_destroyed", "bytes_released"});
    for (const auto& c : array(j, "caches", kMaxCaches)) {
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string() ||
          c["name"].get_ref<const std::string&>().size() > 255)
        bad("a cache without a name");
      uint_fields(c, {"active_objs",  "num_objs",    "objsize",    "objperslab",   "pagesperslab",
                      "limit",        "batchcount",  "shared",     "active_slabs", "num_slabs",
                      "shared_avail", "listallocs",  "maxobjs",    "grown",        "reaped",
                      "error",        "maxfreeable", "nodeallocs", "remotefrees",  "alienoverflow",
                      "allochit",     "allocmiss",   "freehit",    "freemiss"});
      for (const auto& n : array(c, "per_node", static_cast<std::size_t>(nodes))) {
        count(n, "node", 0, nodes - 1);
        uint_fields(n, {"bytes"});
      }
      if (c.contains("per_cpu")) array(c, "per_cpu", static_cast<std::size_t>(cpus));
    }
  }
  static constexpr std::size_t kMaxCaches = 1u << 16;
  std::uint64_t updated_ms() const { return header()->updated_ms; }
  const std::string& path() const { return path_; }

 private:
  using Header = numaslab::detail::PublishHeader;
  const Header* header() const { return static_cast<const Header*>(base_); }
  std::string path_;
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

inline std::string publication_path(int pid) {
  char path[64];
  numaslab::detail::publish_path(pid, path, sizeof path);
  return path;
}

// Whether the process that published /dev/shm/numaslab.<pid> still runs it:
// the pid exists, is not a zombie (a process killed with SIGKILL and not yet
// reaped), and - where its maps can be read - still maps the file (a reused
// pid belongs to another program).
inline bool publisher_alive(int pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream stat(proc + "/stat");
  std::string line;
  if (stat && std::getline(stat, line)) {
    const auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size()) {
      const char state = line[paren + 2];
      if (state == 'Z' || state == 'X' || state == 'x') return false;
    }
  }
  std::ifstream maps(proc + "/maps");
  if (!maps) return true;  // not ours to read: trust kill()
  const std::string path = publication_path(pid);
  while (std::getline(maps, line))
    if (line.size() >= path.size() && line.find(path) != std::string::npos) return true;
  return false;
}

struct Publisher {
  int pid = 0;
  bool alive = false;
  std::string command;  // /proc/<pid>/comm
  double age_s = -1;    // since the figures were last refreshed (-1: unreadable)
};

inline double now_realtime_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Every /dev/shm/numaslab.<pid>, in pid order. remove_stale: unlink the files
// of processes that are gone (they cannot remove them after SIGKILL).
inline std::vector<Publisher> list_publishers(bool remove_stale,
                                              std::vector<std::string>* removed) {
  std::vector<Publisher> out;
  DIR* d = ::opendir("/dev/shm");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (std::strncmp(n, "numaslab.", 9) != 0) continue;
    char* end = nullptr;
    long pid = std::strtol(n + 9, &end, 10);
    if (end == n + 9 || *end != '\0' || pid <= 0) continue;
    Publisher p;
    p.pid = static_cast<int>(pid);
    p.alive = publisher_alive(p.pid);
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    if (p.alive && comm) std::getline(comm, p.command);
    out.push_back(p);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const Publisher& a, const Publisher& b) { return a.pid < b.pid; });
  for (auto& p : out) {
    const std::string path = publication_path(p.pid);
    if (!p.alive) {
      if (remove_stale && ::unlink(path.c_str()) == 0 && removed) removed->push_back(path);
      continue;
    }
    try {
      PublishedStats s(p.pid);
      p.age_s = (now_realtime_ms() - static_cast<double>(s.updated_ms())) / 1000.0;
    } catch (const std::exception&) {
    }
  }
  return out;
}

// A name as it may be shown on a terminal: control characters, DEL, bytes
// outside ASCII and backslashes escaped (\\xNN, \\\\), so a cache name cannot
// carry escape sequences to the terminal.
inline std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", ch);
      out += b;
    } else if (ch == '\\') {
      out += "\\\\";
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out;
}

// The slabinfo 2.1 text rebuilt from the JSON form (same numbers, same format).
inline std::string slabinfo_text(const nlohmann::json& j) {
  std::string out =
      "slabinfo - version: 2.1 (statistics)\n"
      "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
      " : tunables <limit> <batchcount> <sharedfactor>"
      " : slabdata <active_slabs> <num_slabs> <sharedavail>"
      " : globalstat <listallocs> <maxobjs> <grown> <reaped> <error> <maxfreeable>"
      " <nodeallocs> <remotefrees> <alienoverflow>"
      " : cpustat <allochit> <allocmiss> <freehit> <freemiss>\n";
  char line[512];
  for (const auto& c : j.at("caches")) {
    auto u = [&](const char* k) { return c.at(k).get<unsigned long>(); };
    std::snprintf(
        line, sizeof line,
        "%-17s %6lu %6lu %6lu %4lu %4lu : tunables %4lu %4lu %4lu : slabdata %6lu %6lu "
        "%6lu : globalstat %7lu %6lu %5lu %4lu \t\t\t\t%4lu %4lu %4lu %4lu %4lu : cpustat "
        "%6lu %6lu %6lu %6lu\n",
        printable(c.at("name").get<std::string>()).c_str(), u("active_objs"), u("num_objs"),
        u("objsize"), u("objperslab"), u("pagesperslab"), u("limit"), u("batchcount"), u("shared"),
        u("active_slabs"), u("num_slabs"), u("shared_avail"), u("listallocs"), u("maxobjs"),
        u("grown"), u("reaped"), u("error"), u("maxfreeable"), u("nodeallocs"), u("remotefrees"),
        u("alienoverflow"), u("allochit"), u("allocmiss"), u("freehit"), u("freemiss"));
    out += line;
  }
  return out;
}

}  // namespace numaslab::tools
