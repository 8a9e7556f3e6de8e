// numaslab-top <pid>: a slabtop-like live view of a numaslab process.
//
// The process publishes its statistics (NUMASLAB_PUBLISH=1 or
// numaslab_publish(1)); this tool maps them read-only and redraws a table
// every --delay seconds. Keys (as slabtop): q quit; sort by o objects,
// a active objects, u use, s object size, c cache size, l slabs, n name,
// h hit rate, r remote frees; space refreshes now.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "../common/published.h"

namespace {

struct Row {
  std::string name;
  unsigned long objs = 0, active = 0, objsize = 0, slabs = 0, perslab = 0, pages = 0;
  unsigned long cache_bytes = 0, hits = 0, lookups = 0, remote = 0;
  std::vector<unsigned long> node_bytes;
  double use() const {
    return objs ? 100.0 * static_cast<double>(active) / static_cast<double>(objs) : 0;
  }
  double hit_rate() const {
    return lookups ? 100.0 * static_cast<double>(hits) / static_cast<double>(lookups) : 0;
  }
};

const std::map<char, std::string> kSortKeys = {{'o', "objs"}, {'a', "active"}, {'u', "use"},
                                               {'s', "size"}, {'c', "cache"},  {'l', "slabs"},
                                               {'n', "name"}, {'h', "hits"},   {'r', "remote"}};

bool less_by(const std::string& key, const Row& a, const Row& b) {
  if (key == "name") return a.name < b.name;  // ascending
  auto v = [&](const Row& r) -> double {
    if (key == "objs") return static_cast<double>(r.objs);
    if (key == "active") return static_cast<double>(r.active);
    if (key == "use") return r.use();
    if (key == "size") return static_cast<double>(r.objsize);
    if (key == "slabs") return static_cast<double>(r.slabs);
    if (key == "hits") return r.hit_rate();
    if (key == "remote") return static_cast<double>(r.remote);
    return static_cast<double>(r.cache_bytes);
  };
  if (v(a) != v(b)) return v(a) > v(b);  // descending
  return a.name < b.name;
}

std::vector<Row> rows_of(const nlohmann::json& j, int nodes) {
  std::vector<Row> rows;
  for (const auto& c : j.at("caches")) {
    Row r;
    r.name = numaslab::tools::printable(c.at("name"));
    r.objs = c.at("num_objs");
    r.active = c.at("active_objs");
    r.objsize = c.at("objsize");
    r.slabs = c.at("num_slabs");
    r.perslab = c.at("objperslab");
    r.pages = c.at("pagesperslab");
    r.cache_bytes = r.slabs * r.pages * 4096;
    r.hits = c.at("allochit");
    r.lookups = r.hits + c.at("allocmiss").get<unsigned long>();
    r.remote = c.at("remotefrees");
    r.node_bytes.assign(static_cast<std::size_t>(nodes), 0);
    for (const auto& n : c.at("per_node")) {
      int id = n.at("node");
      if (id >= 0 && id < nodes) r.node_bytes[static_cast<std::size_t>(id)] = n.at("bytes");
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string human(unsigned long bytes) {
  char buf[32];
  if (bytes >= (10UL << 30))
    std::snprintf(buf, sizeof buf, "%luG", bytes >> 30);
  else if (bytes >= (10UL << 20))
    std::snprintf(buf, sizeof buf, "%luM", bytes >> 20);
  else
    std::snprintf(buf, sizeof buf, "%luK", bytes >> 10);
  return buf;
}

int terminal_rows() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
  return 40;
}

void draw(const nlohmann::json& j, const std::string& sort_key, bool all, bool clear) {
  const int nodes = j.at("nodes");
  auto rows = rows_of(j, nodes);
  std::sort(rows.begin(), rows.end(),
            [&](const Row& a, const Row& b) { return less_by(sort_key, a, b); });
  unsigned long objs = 0, active = 0, bytes = 0;
  for (const auto& r : rows) {
    objs += r.objs;
    active += r.active;
    bytes += r.cache_bytes;
  }
  std::string out;
  if (clear) out += "\x1b[H\x1b[2J";
  char line[512];
  std::string online;
  for (const auto& c : j.at("online"))
    online += (online.empty() ? "" : ",") + std::to_string(c.get<int>());
  std::snprintf(line, sizeof line,
                " numaslab-top  pid %d  topology %s  slots %s  nodes %d  CPUs online %s\n",
                j.at("pid").get<int>(),
                numaslab::tools::printable(j.at("topology").get<std::string>()).c_str(),
                numaslab::tools::printable(j.value("slots", std::string("?"))).c_str(), nodes,
                online.c_str());
  out += line;
  std::snprintf(line, sizeof line,
                " Active / Total Objects (%% used)  : %lu / %lu (%.1f%%)\n"
                " Active / Total Caches            : %zu\n"
                " Slab memory                      : %s\n",
                active, objs,
                objs ? 100.0 * static_cast<double>(active) / static_cast<double>(objs) : 0.0,
                rows.size(), human(bytes).c_str());
  out += line;
  out += " Memory per node                  :";
  for (const auto& n : j.at("node_bytes")) {
    std::snprintf(line, sizeof line, "  n%d %s in use, %s free", n.at("node").get<int>(),
                  human(n.at("in_use")).c_str(), human(n.at("free")).c_str());
    out += line;
  }
  const auto& rp = j.at("reaper");
  std::snprintf(line, sizeof line,
                "\n Reaper: %lu visits, %lu slabs destroyed, %s released   sort: %s\n\n",
                rp.at("visits").get<unsigned long>(), rp.at("slabs_destroyed").get<unsigned long>(),
                human(rp.at("bytes_released")).c_str(), sort_key.c_str());
  out += line;
  std::snprintf(line, sizeof line, "%9s %9s %4s %8s %7s %5s %9s %6s", "OBJS", "ACTIVE", "USE",
                "OBJ SIZE", "SLABS", "OBJ/S", "CACHE", "HIT%");
  out += line;
  for (int n = 0; n < nodes; ++n) {
    std::snprintf(line, sizeof line, " %7s", ("N" + std::to_string(n)).c_str());
    out += line;
  }
  out += "  NAME\n";
  int budget = all ? 1 << 30 : terminal_rows() - 9;
  for (const auto& r : rows) {
    if (budget-- <= 0) break;
    std::snprintf(line, sizeof line, "%9lu %9lu %3.0f%% %7.2fK %7lu %5lu %9s %5.1f%%", r.objs,
                  r.active, r.use(), static_cast<double>(r.objsize) / 1024.0, r.slabs, r.perslab,
                  human(r.cache_bytes).c_str(), r.hit_rate());
    out += line;
    for (unsigned long b : r.node_bytes) {
      std::snprintf(line, sizeof line, " %7s", human(b).c_str());
      out += line;
    }
    out += "  " + r.name + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

class RawTerminal {
 public:
  RawTerminal() : active_(::isatty(STDIN_FILENO)) {
    if (!active_) return;
    ::tcgetattr(STDIN_FILENO, &saved_);
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  // Waits up to ms for a key; 0 if none.
  char key(int ms) const {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return 0;
    char c = 0;
    return ::read(STDIN_FILENO, &c, 1) == 1 ? c : 0;
  }

 private:
  bool active_;
  termios saved_{};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"slabtop-like live view of a numaslab process (run it with NUMASLAB_PUBLISH=1)"};
  int pid = 0;
  double delay = 1.0;
  int iterations = 0;
  bool once = false;
  bool all = false;
  std::string sort_key = "cache";
  app.add_option("pid", pid, "process id")->required();
  app.add_option("-d,--delay", delay, "seconds between refreshes")->check(CLI::PositiveNumber);
  app.add_option("-n,--iterations", iterations, "exit after this many refreshes (0: run until q)");
  app.add_option("-s,--sort", sort_key,
                 "sort by: objs active use size cache slabs name hits remote")
      ->check(CLI::IsMember(
          {"objs", "active", "use", "size", "cache", "slabs", "name", "hits", "remote"}));
  app.add_flag("-o,--once", once, "print once and exit (no screen clearing)");
  app.add_flag("-a,--all", all, "show every cache even if the terminal is smaller");
  CLI11_PARSE(app, argc, argv);
  if (once) iterations = 1;
  try {
    numaslab::tools::PublishedStats stats(pid);
    RawTerminal term;
    const bool clear = !once && ::isatty(STDOUT_FILENO);
    for (int n = 0; iterations == 0 || n < iterations; ++n) {
      draw(stats.json(), sort_key, all || once, clear);
      if (iterations && n + 1 == iterations) break;
      auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(delay);
      for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        until - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) break;
        char k = term.key(static_cast<int>(left));
        if (k == 'q' || k == 'Q') return 0;
        if (k == ' ') break;
        if (auto it = kSortKeys.find(k); it != kSortKeys.end()) {
          sort_key = it->second;
          break;
        }
      }
      if (::kill(pid, 0) != 0) {
        std::cerr << "numaslab-top: process " << pid << " has exited\n";
        return 0;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "numaslab-top: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
