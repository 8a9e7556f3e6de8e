// What every test reads through the public API: verify()'s verdict and the
// JSON statistics.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace numaslab::test_support {

// Runs numaslab_verify; returns {errors, report}.
struct VerifyResult {
  int errors;
  std::string report;
};
VerifyResult verify();

// verify() finds nothing wrong, with its report as the failure message.
#define EXPECT_VERIFY_OK()                                                     \
  do {                                                                         \
    auto vr_ = ::numaslab::test_support::verify();                             \
    EXPECT_EQ(vr_.errors, 0) << vr_.report;                                    \
    EXPECT_NE(vr_.report.find("verify: OK"), std::string::npos) << vr_.report; \
  } while (0)

// numaslab_slabinfo_json, whole.
std::string slabinfo_json();

}  // namespace numaslab::test_support
