// numaslab — live statistics for other processes (numaslab-top, numaslab-slabinfo).
//
// Contract: when publishing is on (publish_start()), the JSON slabinfo
// (stats/slabinfo.h) is written into a shared-memory file
// /dev/shm/numaslab.<pid> by publish_now(); runtime/ starts it for
// NUMASLAB_PUBLISH=1 and refreshes it on its own tick. Layout:
// a PublishHeader, then `length` bytes of JSON. Writers bump `seq` to odd
// before writing and to even after (a seqlock): a reader copies the text,
// then re-reads seq and retries if it changed or is odd. The file is removed
// by publish_stop() (runtime/ calls it at exit); publish_start() removes the files
// left by processes that no longer exist (killed by a signal).
// Locks: a private mutex serialises writers; it is taken before the registry.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "stats/slabinfo.h"

namespace numaslab::detail {

inline constexpr char kPublishMagic[8] = {'N', 'S', 'L', 'A', 'B', 'P', 'U', 'B'};
inline constexpr std::size_t kPublishBytes = std::size_t{8} << 20;  // mapping size

struct PublishHeader {
  char magic[8];
  std::uint32_t version;  // 1
  std::uint32_t pid;
  std::atomic<std::uint64_t> seq;
  std::uint64_t length;      // bytes of JSON after the header
  std::uint64_t updated_ms;  // CLOCK_REALTIME, ms
  std::uint64_t capacity;    // bytes available after the header
};

// Creates the file (empty until the first publish_now()). 0, or -errno.
int publish_start();
void publish_stop();
bool publishing();
// Fork: the publication mutex is held across fork. The child drops its copy
// of the parent's mapping without touching the parent's file, so its exit
// handler and numaslab_publish() deal with a file of its own (its pid).
void publish_lock_for_fork();
void publish_unlock_after_fork();
void publish_forget_in_child();
// Refreshes the published text (no-op when not publishing).
void publish_now(const ServicesStatus& services);
// Path of the file for a pid ("/dev/shm/numaslab.<pid>").
void publish_path(int pid, char* buf, std::size_t len);

}  // namespace numaslab::detail
