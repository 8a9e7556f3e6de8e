// Prints the NUMASLAB_* options table (src/platform/options.h) as Markdown,
// for numaslab(7).
#include <cstdio>

#include "platform/options.h"

int main() {
  std::printf("| variable | default | meaning |\n|---|---|---|\n");
  for (const auto& o : numaslab::detail::kOptionTable)
    std::printf("| %s | %s | %s |\n", o.name, o.default_value, o.meaning);
  return 0;
}
