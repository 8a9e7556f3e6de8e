// numaslab — the system-call seam: every mmap, munmap, madvise, mbind and
// thread creation numaslab makes goes through one Platform.
//
// Contract:
//  * real_platform() makes the system calls. A test installs another
//    implementation (a fake that fails the Nth call, say) with
//    set_platform() at a quiescent point, and puts the real one back with
//    set_platform(nullptr). Nothing in the library knows whether the
//    platform is real: there is no fault switch in shipped code.
//  * Each entry reports failure the system-call way (nullptr / -1 with
//    errno, or an error number for thread creation) and never aborts.
//  * The functions allocate nothing and take no lock.
#pragma once

#include <pthread.h>

#include <cstddef>

namespace numaslab::detail {

struct Platform {
  // Anonymous private read/write mapping (MAP_NORESERVE when `reserve`);
  // nullptr on failure.
  void* (*map)(std::size_t len, bool reserve);
  int (*unmap)(void* p, std::size_t len);
  int (*advise_dontneed)(void* p, std::size_t len);
  // mbind(p, len, MPOL_PREFERRED, mask, maxnode, 0).
  long (*bind_preferred)(void* p, std::size_t len, const unsigned long* mask,
                         unsigned long maxnode);
  // pthread_create: 0 or an error number.
  int (*thread_create)(pthread_t* tid, const pthread_attr_t* attr, void* (*fn)(void*), void* arg);
  // mremap of a whole mapping: in place (to == nullptr), or moved onto the
  // mapping at `to` (MREMAP_MAYMOVE | MREMAP_FIXED, which replaces it).
  // The new address, or nullptr on failure.
  void* (*remap)(void* p, std::size_t old_len, std::size_t new_len, void* to);
};

const Platform& real_platform();
const Platform& platform();
void set_platform(const Platform* p);  // nullptr: the real one

}  // namespace numaslab::detail
