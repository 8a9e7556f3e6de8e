// What every test reads through the public API: verify()'s verdict and the
// JSON statistics.
#pragma once

#include <string>

namespace numaslab::test_support {

// Runs numaslab_verify; returns {errors, report}.
struct VerifyResult {
  int errors;
  std::string report;
};
VerifyResult verify();

// numaslab_slabinfo_json, whole.
std::string slabinfo_json();

}  // namespace numaslab::test_support
