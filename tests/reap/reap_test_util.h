// The reap/ layer tests' prelude: the shared test support (tests/support/).
// Helpers live in tests/support/, not here.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "cache/alien_cache.h"
#include "cache/registry.h"
#include "numaslab/numaslab.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/init.h"
#include "support/process.h"

namespace reaptest {
using namespace ::numaslab::test_support;
}  // namespace reaptest
