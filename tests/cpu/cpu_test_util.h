// The cpu/ layer tests' prelude: the shared test support (tests/support/) in
// their namespace. Helpers live in tests/support/, not here.
#pragma once

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/sanitizer.h"
#include "cache/cache.h"
#include "cpu/cpu_slots.h"
#include "cpu/rseq_slots.h"
#include "numaslab/numaslab.h"
#include "support/cache_state.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/report.h"
#include "support/sanitizers.h"
#include "support/slots.h"
#include "support/stamp.h"
#include "support/threads.h"

namespace numaslab::cpu_test {
using namespace ::numaslab::test_support;
}  // namespace numaslab::cpu_test
