// numaslab — runtime/ internals shared by start-up and the services.
#pragma once

namespace numaslab::detail {

// Starts whatever wanted service is not running yet; true when none is
// missing. A failure schedules the next retry a second later.
bool try_start_services();
// In a fork child: no service thread survived. The threads and the
// publication (when the parent published: under the child's own pid) start
// again at the child's next slow path.
void services_forget_in_child(bool republish);
// The NUMASLAB_VERBOSE start-up line.
void print_verbose_line();

}  // namespace numaslab::detail
