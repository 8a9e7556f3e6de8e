#include "support/report.h"

#include "numaslab/numaslab.h"

namespace numaslab::test_support {

VerifyResult verify() {
  static char buf[1 << 16];
  int n = numaslab_verify(buf, sizeof buf);
  return VerifyResult{n, std::string(buf)};
}

std::string slabinfo_json() {
  std::size_t n = numaslab_slabinfo_json(nullptr, 0);
  std::string s(n + 1, '\0');
  numaslab_slabinfo_json(s.data(), s.size());
  s.resize(n);
  return s;
}

}  // namespace numaslab::test_support
