// Leak reports (leaks.h).
#include "debug/leaks.h"

#include "base/format.h"
#include "debug/slab_debug.h"

namespace numaslab::detail {

void LeakTable::clear() {
  used_ = 0;
  objects_ = bytes_ = other_objects_ = other_bytes_ = 0;
}

void LeakTable::add(const char* cache, void* site, std::size_t bytes) {
  ++objects_;
  bytes_ += bytes;
  for (int i = 0; i < used_; ++i) {
    if (entries_[i].site == site && entries_[i].cache == cache) {
      ++entries_[i].objects;
      entries_[i].bytes += bytes;
      return;
    }
  }
  if (used_ == kLeakSites) {
    ++other_objects_;
    other_bytes_ += bytes;
    return;
  }
  entries_[used_++] = Entry{site, cache, 1, bytes};
}

void LeakTable::write(int fd, const char* heading, int max_lines) const {
  // Largest first: a selection over a copy of the indices (no allocation).
  int order[kLeakSites];
  for (int i = 0; i < used_; ++i) order[i] = i;
  for (int i = 0; i < used_; ++i) {
    int best = i;
    for (int j = i + 1; j < used_; ++j) {
      const Entry& a = entries_[order[j]];
      const Entry& b = entries_[order[best]];
      if (a.bytes > b.bytes || (a.bytes == b.bytes && a.objects > b.objects)) best = j;
    }
    const int t = order[i];
    order[i] = order[best];
    order[best] = t;
  }
  char line[512];
  BufWriter head(line, sizeof line);
  head.printf("numaslab: %s: %llu objects (%llu bytes) in use from %d allocation site%s\n", heading,
              static_cast<unsigned long long>(objects_), static_cast<unsigned long long>(bytes_),
              used_ + (other_objects_ ? 1 : 0), used_ + (other_objects_ ? 1 : 0) == 1 ? "" : "s");
  write_all(fd, head.c_str(), head.size());
  for (int i = 0; i < used_ && i < max_lines; ++i) {
    const Entry& e = entries_[order[i]];
    BufWriter w(line, sizeof line - 1);
    w.printf("numaslab:   %llu object%s, %llu bytes, cache '%s', allocated at ",
             static_cast<unsigned long long>(e.objects), e.objects == 1 ? "" : "s",
             static_cast<unsigned long long>(e.bytes), e.cache);
    put_site(w, e.site);
    const std::size_t n = w.size();
    line[n] = '\n';
    write_all(fd, line, n + 1);
  }
  if (used_ > max_lines || other_objects_) {
    std::uint64_t objs = other_objects_, b = other_bytes_;
    for (int i = max_lines; i < used_; ++i) {
      objs += entries_[order[i]].objects;
      b += entries_[order[i]].bytes;
    }
    BufWriter w(line, sizeof line);
    w.printf("numaslab:   %llu objects, %llu bytes from other sites\n",
             static_cast<unsigned long long>(objs), static_cast<unsigned long long>(b));
    write_all(fd, w.c_str(), w.size());
  }
}

}  // namespace numaslab::detail
