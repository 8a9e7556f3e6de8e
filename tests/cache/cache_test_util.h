// The cache/ layer tests' prelude: the shared test support (tests/support/)
// in their namespace. Helpers live in tests/support/, not here.
//
// Every TEST runs in its own process under ctest, so each one initialises its
// own topology (usually sim:2x2: CPUs 0,1 on node 0 and 2,3 on node 1).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "cache/alien_cache.h"
#include "cache/cache.h"
#include "cache/kmalloc.h"
#include "cache/registry.h"
#include "numaslab/numaslab.h"
#include "page/page_map.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/report.h"

namespace numaslab::detail::testing_cache {
using namespace ::numaslab::test_support;
}  // namespace numaslab::detail::testing_cache
