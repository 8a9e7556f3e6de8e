// numaslab-slabinfo <pid>: prints a live process's slabinfo once (text or JSON).
#include <CLI/CLI.hpp>
#include <iostream>

#include "../common/published.h"
#include "numaslab/numaslab.h"

int main(int argc, char** argv) {
  CLI::App app{"Print the slab statistics a numaslab process publishes (NUMASLAB_PUBLISH=1)"};
  app.set_version_flag("--version", std::string("numaslab-slabinfo ") + numaslab_version());
  int pid = 0;
  bool json = false;
  app.add_option("pid", pid, "process id")->required();
  app.add_flag("--json", json, "print the JSON form (with per-node and per-CPU detail)");
  CLI11_PARSE(app, argc, argv);
  try {
    const std::string path = numaslab::tools::publication_path(pid);
    if (!numaslab::tools::publisher_alive(pid) && ::access(path.c_str(), F_OK) == 0) {
      std::cerr << "numaslab-slabinfo: process " << pid
                << " is gone; its last statistics are stale (file removed)\n";
      ::unlink(path.c_str());
      return 1;
    }
    numaslab::tools::PublishedStats stats(pid);
    nlohmann::json j = stats.json();
    if (json)
      std::cout << j.dump(2) << "\n";
    else
      std::cout << numaslab::tools::slabinfo_text(j);
  } catch (const std::exception& e) {
    std::cerr << "numaslab-slabinfo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
