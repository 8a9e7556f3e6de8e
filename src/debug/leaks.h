// numaslab — leak reports: objects in use grouped by allocation site (the
// role of libumem's ::findleaks), counted without allocating.
//
// Contract: the cache layer walks its debug caches' slabs and add()s every
// object in use that has a call site (numaslab's own metadata has none);
// write() prints one line per (site, cache), largest byte count first:
//   numaslab: leak report: 3 objects (300 bytes) in use from 1 allocation site
//   numaslab:   3 objects, 300 bytes, cache 'kmalloc-128', allocated at 0x… (leak3+0x1c,
//   prog+0x11c9)
// At most kLeakSites distinct sites are kept; the rest are summed in one line.
// Locks: the table has none; its user serialises (the registry mutex).
#pragma once

#include <cstddef>
#include <cstdint>

namespace numaslab::detail {

inline constexpr int kLeakSites = 256;

class LeakTable {
 public:
  void clear();
  void add(const char* cache, void* site, std::size_t bytes);
  std::uint64_t objects() const { return objects_; }
  std::uint64_t bytes() const { return bytes_; }
  // heading: the first line's text before the counts ("leak report").
  // Writes the lines of at most max_lines sites; prefix starts each line.
  void write(int fd, const char* heading, int max_lines) const;

 private:
  struct Entry {
    void* site;
    const char* cache;
    std::uint64_t objects;
    std::uint64_t bytes;
  };
  Entry entries_[kLeakSites];
  int used_ = 0;
  std::uint64_t objects_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t other_objects_ = 0;
  std::uint64_t other_bytes_ = 0;
};

}  // namespace numaslab::detail
