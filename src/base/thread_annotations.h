// numaslab — clang thread-safety annotation macros (no-ops elsewhere).
//
// Contract: the only place these attributes are spelled. Build with clang
// -Wthread-safety to have the analysis check GUARDED_BY/REQUIRES/EXCLUDES.
// Lock order is not spelled with acquired_before: most locks are one per
// cache, node or CPU, which the analysis cannot order; LockRank (base/lock.h)
// is the order, and the rank validator checks it at run time.
#pragma once

#if defined(__clang__)
#define NS_TSA(x) __attribute__((x))
#else
#define NS_TSA(x)
#endif

#define NS_CAPABILITY(x) NS_TSA(capability(x))
#define NS_SCOPED_CAPABILITY NS_TSA(scoped_lockable)
#define NS_GUARDED_BY(x) NS_TSA(guarded_by(x))
#define NS_PT_GUARDED_BY(x) NS_TSA(pt_guarded_by(x))
#define NS_REQUIRES(...) NS_TSA(requires_capability(__VA_ARGS__))
#define NS_EXCLUDES(...) NS_TSA(locks_excluded(__VA_ARGS__))
#define NS_ACQUIRE(...) NS_TSA(acquire_capability(__VA_ARGS__))
#define NS_RELEASE(...) NS_TSA(release_capability(__VA_ARGS__))
#define NS_TRY_ACQUIRE(...) NS_TSA(try_acquire_capability(__VA_ARGS__))
#define NS_RETURN_CAPABILITY(x) NS_TSA(lock_returned(x))
#define NS_NO_THREAD_SAFETY_ANALYSIS NS_TSA(no_thread_safety_analysis)
