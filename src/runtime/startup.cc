// Start-up: the lazy start on first use, the explicit one (numaslab_init),
// and the check of the environment when the library is loaded.
#include <unistd.h>

#include <cerrno>

#include "base/check.h"
#include "base/format.h"
#include "platform/options.h"
#include "runtime/process.h"
#include "runtime/runtime.h"
#include "runtime/services.h"
#include "stats/publish.h"

namespace numaslab::detail {

namespace {

// After the registry mutex is released: the publisher's lock ranks before
// it, and the services' threads take it themselves.
void start_services() {
  process_handlers_install();
  try_start_services();
  if (options().publish) publication_start();
  if (options().verbose) print_verbose_line();
  report_option_problems(options_problem());
}

}  // namespace

int runtime_init(const char* spec, char* err, std::size_t errlen) {
  if (err && errlen) err[0] = '\0';
  TopologySpec parsed;
  if (!parse_topology_spec(spec, &parsed, err, errlen)) return -EINVAL;
  int rc = boot(parsed, spec, err, errlen);
  if (rc < 0) return rc;
  if (rc == 1)
    start_services();
  else
    services_retry();
  return 0;
}

bool ensure_started_slow() {
  // The bootstrapping thread itself allocates metadata through the public
  // paths; let it through.
  if (registry().mutex.held_by_me()) return true;
  const char* spec = options().topology;
  char err[160];
  int rc = runtime_init(spec, err, sizeof err);
  // Out of memory: the caller fails with ENOMEM and a later call tries again.
  if (rc == -ENOMEM) {
    errno = ENOMEM;
    return false;
  }
  if (rc != 0 && rc != -EBUSY)
    fatal("cannot start: NUMASLAB_TOPOLOGY=\"%s\": %s", spec ? spec : "", err);
  return booted();
}

namespace {

// Start-up check, when the program (or the library) is loaded: every bad
// NUMASLAB_* value is reported now, and a topology that cannot be parsed
// stops the program here with its reason instead of at its first allocation.
// It parses into a copy: options() still reads the environment at first use.
__attribute__((constructor)) void check_environment_at_load() {
  Options parsed;
  char problems[1024];
  parse_options(&parsed, problems, sizeof problems);
  report_option_problems(problems);
  TopologySpec spec;
  char err[160];
  if (!parse_topology_spec(parsed.topology, &spec, err, sizeof err)) {
    char line[320];
    std::size_t n =
        format(line, sizeof line, "numaslab: cannot start: NUMASLAB_TOPOLOGY=\"%s\": %s\n",
               parsed.topology, err);
    write_all(2, line, n < sizeof line ? n : sizeof line - 1);
    _exit(1);
  }
}

}  // namespace

}  // namespace numaslab::detail
