// Reading the statistics a numaslab process publishes (src/stats/publish.h):
// map /dev/shm/numaslab.<pid>, copy the JSON under the seqlock, parse it.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "stats/publish.h"

namespace numaslab::tools {

class PublishedStats {
 public:
  explicit PublishedStats(int pid) {
    char path[64];
    numaslab::detail::publish_path(pid, path, sizeof path);
    path_ = path;
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw std::runtime_error("no statistics published at " + path_ +
                               " (is the process running with NUMASLAB_PUBLISH=1?)");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < sizeof(Header)) {
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
  nlohmann::json json() const {
    auto t = text();
    if (!t) throw std::runtime_error("statistics are being rewritten too often to read");
    return nlohmann::json::parse(*t);
  }
  std::uint64_t updated_ms() const { return header()->updated_ms; }
  const std::string& path() const { return path_; }

 private:
  using Header = numaslab::detail::PublishHeader;
  const Header* header() const { return static_cast<const Header*>(base_); }
  std::string path_;
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

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
    std::snprintf(line, sizeof line,
                  "%-17s %6lu %6lu %6lu %4lu %4lu : tunables %4lu %4lu %4lu : slabdata %6lu %6lu "
                  "%6lu : globalstat %7lu %6lu %5lu %4lu \t\t\t\t%4lu %4lu %4lu %4lu %4lu : cpustat "
                  "%6lu %6lu %6lu %6lu\n",
                  c.at("name").get<std::string>().c_str(), u("active_objs"), u("num_objs"),
                  u("objsize"), u("objperslab"), u("pagesperslab"), u("limit"), u("batchcount"),
                  u("shared"), u("active_slabs"), u("num_slabs"), u("shared_avail"),
                  u("listallocs"), u("maxobjs"), u("grown"), u("reaped"), u("error"),
                  u("maxfreeable"), u("nodeallocs"), u("remotefrees"), u("alienoverflow"),
                  u("allochit"), u("allocmiss"), u("freehit"), u("freemiss"));
    out += line;
  }
  return out;
}

}  // namespace numaslab::tools
