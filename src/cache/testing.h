// numaslab — test-only hooks that re-enact historical bugs.
//
// Contract: nothing in the allocator calls these. They exist so tests can
// prove the lock validator catches what the seed patch fixed.
#pragma once

namespace numaslab::detail {

// The pre-patch CPU_DEAD ordering: frees a metadata array into the kmalloc
// cache that holds it while holding that cache's list_lock on `node`. With
// the lock validator on this aborts, naming the list_lock; without it, it can
// self-deadlock — exactly the bug.
void test_free_metadata_under_list_lock(int node);

}  // namespace numaslab::detail
