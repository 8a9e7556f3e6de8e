// numaslab-top <pid>: a slabtop-like live view of a numaslab process.
//
// The process publishes its statistics (NUMASLAB_PUBLISH=1 or
// numaslab_publish(1)); this tool maps them read-only and redraws a table
// every --delay seconds, with the columns that fit the terminal's width.
// Keys: q quit, space refresh; sort keys as slabtop's (kSortKeys).
// A publisher that exits or is killed is reported as gone (exit status 3).
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "../common/published.h"
#include "numaslab/numaslab.h"

namespace {

constexpr int kExitGone = 3;

struct Row {
  std::string name;
  unsigned long objs = 0, active = 0, objsize = 0, slabs = 0, active_slabs = 0, perslab = 0,
                pages = 0;
  unsigned long cache_bytes = 0, hits = 0, lookups = 0, remote = 0;
  std::vector<unsigned long> node_bytes;
  double use() const {
    return objs ? 100.0 * static_cast<double>(active) / static_cast<double>(objs) : 0;
  }
  double hit_rate() const {
    return lookups ? 100.0 * static_cast<double>(hits) / static_cast<double>(lookups) : 0;
  }
};

// slabtop's single-letter sort keys, plus h and r.
struct SortKey {
  char letter;
  const char* name;
  const char* meaning;
  std::function<double(const Row&)> value;  // sorted descending; name ascending
};
const std::vector<SortKey>& sort_keys() {
  static const std::vector<SortKey> keys = {
      {'a', "active", "active objects", [](const Row& r) { return double(r.active); }},
      {'b', "perslab", "objects per slab", [](const Row& r) { return double(r.perslab); }},
      {'c', "cache", "cache size", [](const Row& r) { return double(r.cache_bytes); }},
      {'l', "slabs", "slabs", [](const Row& r) { return double(r.slabs); }},
      {'v', "active-slabs", "active slabs", [](const Row& r) { return double(r.active_slabs); }},
      {'n', "name", "name", nullptr},
      {'o', "objs", "objects", [](const Row& r) { return double(r.objs); }},
      {'p', "pages", "pages per slab", [](const Row& r) { return double(r.pages); }},
      {'s', "size", "object size", [](const Row& r) { return double(r.objsize); }},
      {'u', "use", "use", [](const Row& r) { return r.use(); }},
      {'h', "hits", "hit rate", [](const Row& r) { return r.hit_rate(); }},
      {'r', "remote", "remote frees", [](const Row& r) { return double(r.remote); }},
  };
  return keys;
}
const SortKey* find_key(const std::string& k) {
  for (const auto& s : sort_keys())
    if ((k.size() == 1 && k[0] == s.letter) || k == s.name) return &s;
  return nullptr;
}
std::string keys_help() {
  std::string out;
  for (const auto& s : sort_keys())
    out += std::string("  ") + s.letter + "  " + s.meaning + " (" + s.name + ")\n";
  return out;
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
    r.active_slabs = c.at("active_slabs");
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

template <typename... A>
std::string fmt(const char* f, A... a) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, a...);
  return buf;
}

// A table column: header and cell, right-aligned in `width` characters
// (plus one space before it).
struct Column {
  const char* header;
  int width;
  std::function<std::string(const Row&)> cell;
};

// Columns in the order shown. Always: OBJS ACTIVE USE OBJ SIZE CACHE NAME;
// the others are added, most useful first, while the line still fits in
// `width` with room for a name.
std::vector<Column> choose_columns(int nodes, int width) {
  constexpr int kNameMin = 18;
  std::vector<Column> base = {
      {"OBJS", 9, [](const Row& r) { return std::to_string(r.objs); }},
      {"ACTIVE", 9, [](const Row& r) { return std::to_string(r.active); }},
      {"USE", 4, [](const Row& r) { return fmt("%3.0f%%", r.use()); }},
      {"OBJ SIZE", 8, [](const Row& r) { return fmt("%7.2fK", double(r.objsize) / 1024.0); }},
  };
  Column slabs{"SLABS", 7, [](const Row& r) { return std::to_string(r.slabs); }};
  Column perslab{"OBJ/S", 5, [](const Row& r) { return std::to_string(r.perslab); }};
  Column cache{"CACHE", 7, [](const Row& r) { return human(r.cache_bytes); }};
  Column hits{"HIT%", 6, [](const Row& r) { return fmt("%5.1f%%", r.hit_rate()); }};
  std::vector<Column> per_node;
  for (int n = 0; n < nodes; ++n)
    per_node.push_back({nullptr, 7, [n](const Row& r) {
                          return human(r.node_bytes[static_cast<std::size_t>(n)]);
                        }});
  auto used = [](const std::vector<Column>& cs) {
    int w = 0;
    for (const auto& c : cs) w += c.width + 1;
    return w;
  };
  int budget = width - kNameMin - 2 - used(base) - (cache.width + 1);
  bool want_nodes = false, want_hits = false, want_slabs = false, want_perslab = false;
  auto take = [&](bool& flag, int w) {
    if (w <= budget) {
      flag = true;
      budget -= w;
    }
  };
  take(want_nodes, used(per_node));
  take(want_hits, hits.width + 1);
  take(want_slabs, slabs.width + 1);
  take(want_perslab, perslab.width + 1);
  std::vector<Column> out = base;
  if (want_slabs) out.push_back(slabs);
  if (want_perslab) out.push_back(perslab);
  out.push_back(cache);
  if (want_hits) out.push_back(hits);
  if (want_nodes)
    for (auto& c : per_node) out.push_back(c);
  return out;
}

std::string fit(std::string s, int width) {
  if (static_cast<int>(s.size()) > width) s.resize(static_cast<std::size_t>(width));
  return s;
}

// Appends words to lines no wider than width; continuation lines are indented.
void wrap(std::vector<std::string>& out, const std::string& head,
          const std::vector<std::string>& items, int width) {
  std::string line = head;
  for (const auto& it : items) {
    if (line.size() + it.size() > static_cast<std::size_t>(width) && line != head) {
      out.push_back(line);
      line = std::string(head.size(), ' ');
    }
    line += it;
  }
  out.push_back(line);
}

struct View {
  const SortKey* sort;
  bool all;
  int width;
  int height;  // lines available (for the rows)
};

std::vector<std::string> render(const nlohmann::json& j, const View& v, double age_s) {
  const int nodes = j.at("nodes");
  auto rows = rows_of(j, nodes);
  const SortKey* k = v.sort;
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (!k->value) return a.name < b.name;
    const double x = k->value(a), y = k->value(b);
    if (x != y) return x > y;
    return a.name < b.name;
  });
  unsigned long objs = 0, active = 0, bytes = 0;
  for (const auto& r : rows) {
    objs += r.objs;
    active += r.active;
    bytes += r.cache_bytes;
  }
  std::vector<std::string> out;
  // Online CPUs as a cpulist ("0-3,6").
  std::vector<int> on;
  for (const auto& c : j.at("online")) on.push_back(c.get<int>());
  std::string cpus;
  for (std::size_t i = 0; i < on.size();) {
    std::size_t e = i;
    while (e + 1 < on.size() && on[e + 1] == on[e] + 1) ++e;
    cpus += (cpus.empty() ? "" : ",") + std::to_string(on[i]);
    if (e > i) cpus += "-" + std::to_string(on[e]);
    i = e + 1;
  }
  wrap(out, "",
       {fmt(" numaslab-top  pid %d", j.at("pid").get<int>()),
        "  topology " + numaslab::tools::printable(j.at("topology").get<std::string>()),
        "  slots " + j.value("slots", std::string("?")), fmt("  nodes %d", nodes),
        "  CPUs online " + cpus},
       v.width);
  out.push_back(fmt(" Active / Total Objects (%% used) : %lu / %lu (%.1f%%)", active, objs,
                    objs ? 100.0 * double(active) / double(objs) : 0.0));
  out.push_back(fmt(" Caches %zu, slab memory %s, figures %.1f s old", rows.size(),
                    human(bytes).c_str(), age_s < 0 ? 0.0 : age_s));
  std::vector<std::string> per_node;
  for (const auto& n : j.at("node_bytes"))
    per_node.push_back(fmt("  n%d %s used %s free", n.at("node").get<int>(),
                           human(n.at("in_use")).c_str(), human(n.at("free")).c_str()));
  wrap(out, " Memory per node:", per_node, v.width);
  const auto& rp = j.at("reaper");
  out.push_back(fmt(
      " Reaper: %lu visits, %lu slabs destroyed, %s released", rp.at("visits").get<unsigned long>(),
      rp.at("slabs_destroyed").get<unsigned long>(), human(rp.at("bytes_released")).c_str()));
  wrap(out, "",
       {fmt(" Sort: %s (%c)", k->meaning, k->letter), "   keys: q quit, space refresh,",
        " sort a b c l v n o p s u h r"},
       v.width);
  out.push_back("");
  const auto cols = choose_columns(nodes, v.width);
  std::string head;
  int node_col = 0;
  for (const auto& c : cols) {
    std::string h = c.header ? c.header : "N" + std::to_string(node_col++);
    head += fmt(" %*s", c.width, h.c_str());
  }
  out.push_back(head + "  NAME");
  int budget = v.all ? 1 << 30 : v.height - static_cast<int>(out.size()) - 1;
  for (const auto& r : rows) {
    if (budget-- <= 0) break;
    std::string line;
    for (const auto& c : cols) line += fmt(" %*s", c.width, c.cell(r).c_str());
    out.push_back(line + "  " + r.name);
  }
  for (auto& l : out) l = fit(l, v.width);
  return out;
}

void terminal_size(int* cols, int* rows) {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    *cols = ws.ws_col;
    *rows = ws.ws_row > 0 ? ws.ws_row : 24;
    return;
  }
  *cols = 80;  // not a terminal: the classic width
  *rows = 24;
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

int list_mode() {
  std::vector<std::string> removed;
  auto pubs = numaslab::tools::list_publishers(true, &removed);
  for (const auto& r : removed) std::printf("removed %s (its process is gone)\n", r.c_str());
  int live = 0;
  for (const auto& p : pubs) {
    if (!p.alive) continue;
    if (live++ == 0) std::printf("%8s %9s  %s\n", "PID", "UPDATED", "COMMAND");
    std::printf("%8d %8.1fs  %s\n", p.pid, p.age_s, p.command.c_str());
  }
  if (live == 0)
    std::printf("no numaslab process publishes statistics (run one with NUMASLAB_PUBLISH=1)\n");
  return 0;
}

// The caller found the publisher gone. Not asked again: a process that is
// still exiting when SIGKILLed can look alive to a second look (its maps no
// longer readable), and its file would stay behind.
int gone(int pid, const std::string& path) {
  std::cerr << "numaslab-top: process " << pid
            << " is gone; its statistics are no longer updated\n";
  ::unlink(path.c_str());
  return kExitGone;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"slabtop-like live view of a numaslab process (run it with NUMASLAB_PUBLISH=1)"};
  app.set_version_flag("--version", std::string("numaslab-top ") + numaslab_version());
  int pid = 0;
  double delay = 1.0;
  int iterations = 0;
  int width = 0;
  bool once = false, all = false, list = false;
  std::string sort_name = "c";
  app.add_option("pid", pid, "process id");
  app.add_option("-d,--delay", delay, "seconds between refreshes")->check(CLI::PositiveNumber);
  app.add_option("-n,--iterations", iterations, "exit after this many refreshes (0: run until q)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-s,--sort", sort_name, "sort key: a letter or name from the list below")
      ->check([](const std::string& k) {
        return find_key(k) ? std::string() : "unknown sort key '" + k + "' (see --help)";
      });
  app.add_flag("-o,--once", once, "print once and exit (no screen clearing)");
  app.add_flag("-a,--all", all, "show every cache even if the terminal is smaller");
  app.add_option("-w,--width", width,
                 "lay out for this many columns (default: the terminal's, else 80)")
      ->check(CLI::Range(40, 1000));
  app.add_flag("-l,--list", list, "list processes that publish statistics; remove stale files");
  app.footer(
      "Keys while running:\n  q  quit\n  space  refresh now\nSort keys (also for --sort):\n" +
      keys_help() + "Exit status: 0 done, 1 error, 2 usage, 3 the process is gone.");
  CLI11_PARSE(app, argc, argv);
  if (list) return list_mode();
  if (pid <= 0) {
    std::cerr << "numaslab-top: a process id is needed (numaslab-top --list shows candidates)\n";
    return 2;
  }
  const SortKey* sort = find_key(sort_name);
  if (once) iterations = 1;
  const std::string path = numaslab::tools::publication_path(pid);
  try {
    if (!numaslab::tools::publisher_alive(pid)) {
      if (::access(path.c_str(), F_OK) == 0) return gone(pid, path);
    }
    numaslab::tools::PublishedStats stats(pid);
    RawTerminal term;
    const bool tty = ::isatty(STDOUT_FILENO);
    const bool clear = !once && tty;
    for (int n = 0; iterations == 0 || n < iterations; ++n) {
      if (!numaslab::tools::publisher_alive(pid)) return gone(pid, path);
      if (::access(path.c_str(), F_OK) != 0) {
        std::cerr << "numaslab-top: process " << pid << " stopped publishing its statistics\n";
        return kExitGone;
      }
      int cols = 80, rows = 24;
      terminal_size(&cols, &rows);
      View v{sort, all || once || !tty, width ? width : cols, rows};
      const double age = (numaslab::tools::now_realtime_ms() - double(stats.updated_ms())) / 1000.0;
      std::string out = clear ? "\x1b[H\x1b[2J" : "";
      for (const auto& l : render(stats.json(), v, age)) out += l + "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
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
        if (const SortKey* s = find_key(std::string(1, k))) {
          sort = s;
          break;
        }
      }
    }
  } catch (const std::exception& e) {
    if (!numaslab::tools::publisher_alive(pid) && ::access(path.c_str(), F_OK) == 0)
      return gone(pid, path);
    std::cerr << "numaslab-top: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
