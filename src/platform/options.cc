#include "platform/options.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "base/check.h"
#include "base/format.h"

extern char** environ;

namespace numaslab::detail {

namespace {

constexpr std::size_t kProblemsBytes = 1024;

Options g_options;
char g_problems[kProblemsBytes];
// pthread_once, not std::call_once: the malloc shim must not need the C++
// runtime library.
pthread_once_t g_once = PTHREAD_ONCE_INIT;
// What report_option_problems() last wrote, so a report is not repeated.
char g_reported[kProblemsBytes];
std::atomic_flag g_report_lock = ATOMIC_FLAG_INIT;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_nocase(const char* a, const char* b) {
  for (; *a && *b; ++a, ++b)
    if (lower(*a) != lower(*b)) return false;
  return *a == *b;
}

const char* default_of(const char* name) {
  for (const OptionInfo& o : kOptionTable)
    if (__builtin_strcmp(o.name, name) == 0) return o.default_value;
  return "";
}

// One parse of the environment into *out, with every problem as a line of
// problems (which must start empty).
class Parser {
 public:
  Parser(char* problems, std::size_t len) : w_(problems, len) {}

  const char* get(const char* name) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, at start-up
    const char* v = std::getenv(name);
    return v && *v ? v : default_of(name);
  }

  int get_int(const char* name, int lo, int hi) {
    const char* v = get(name);
    char* end = nullptr;
    long x = std::strtol(v, &end, 10);
    if (end == v || *end != '\0' || x < lo || x > hi) {
      w_.printf("%s=\"%s\" is not a number in %d..%d; using %s\n", name, v, lo, hi,
                default_of(name));
      return static_cast<int>(std::strtol(default_of(name), nullptr, 10));
    }
    return static_cast<int>(x);
  }

  bool get_bool(const char* name) {
    const char* v = get(name);
    int b = parse_bool(v);
    if (b < 0) {
      w_.printf("%s=\"%s\" is not a boolean (0/1, true/false, yes/no, on/off); using %s\n", name, v,
                default_of(name));
      b = parse_bool(default_of(name));
    }
    return b == 1;
  }

  // NUMASLAB_* variables that are no option: a warning naming the closest.
  void unknown_names() {
    for (char** e = environ; e && *e; ++e) {
      const char* s = *e;
      if (__builtin_strncmp(s, "NUMASLAB_", 9) != 0) continue;
      char name[64];
      std::size_t n = 0;
      while (s[n] && s[n] != '=' && n + 1 < sizeof name) {
        name[n] = s[n];
        ++n;
      }
      name[n] = '\0';
      bool known = false;
      const char* best = nullptr;
      int best_d = 1 << 30;
      for (const OptionInfo& o : kOptionTable) {
        if (__builtin_strcmp(o.name, name) == 0) known = true;
        int d = option_name_distance(name, o.name);
        if (d < best_d) best_d = d, best = o.name;
      }
      if (!known && best && best_d <= kMaxSuggestionDistance)
        w_.printf("%s is not a numaslab option; did you mean %s?\n", name, best);
    }
  }

  // A comma list of words, each a bit (or "all" / "none"); an unknown word
  // is reported and ignored.
  unsigned get_word_list(const char* name) {
    static constexpr struct {
      const char* word;
      unsigned bits;
    } kWords[] = {{"redzone", kDebugOptRedZone}, {"poison", kDebugOptPoison},
                  {"user", kDebugOptUser},       {"leaks", kDebugOptLeaks},
                  {"all", kDebugOptAll},         {"none", 0}};
    const char* v = get(name);
    unsigned bits = 0;
    for (const char* p = v; *p;) {
      const char* end = p;
      while (*end && *end != ',') ++end;
      const auto n = static_cast<std::size_t>(end - p);
      bool known = n == 0;
      for (const auto& w : kWords) {
        if (__builtin_strlen(w.word) == n && __builtin_strncmp(w.word, p, n) == 0) {
          bits |= w.bits;
          known = true;
        }
      }
      if (!known) {
        w_.printf("%s=\"%s\": ", name, v);
        w_.put_n(p, n);
        w_.printf(" is not redzone, poison, user, leaks, all or none; ignored\n");
      }
      p = *end ? end + 1 : end;
    }
    return bits;
  }

  // One choice among words ("fast" or "full"); index into choices.
  int get_choice(const char* name, const char* const* choices, int n) {
    const char* v = get(name);
    for (int i = 0; i < n; ++i)
      if (__builtin_strcmp(v, choices[i]) == 0) return i;
    w_.printf("%s=\"%s\" is not", name, v);
    for (int i = 0; i < n; ++i) w_.printf("%s %s", i ? (i + 1 == n ? " or" : ",") : "", choices[i]);
    w_.printf("; using %s\n", default_of(name));
    for (int i = 0; i < n; ++i)
      if (__builtin_strcmp(default_of(name), choices[i]) == 0) return i;
    return 0;
  }

 private:
  BufWriter w_;
};

void parse() { parse_options(&g_options, g_problems, sizeof g_problems); }

}  // namespace

int parse_bool(const char* v) {
  static constexpr const char* kTrue[] = {"1", "true", "yes", "on"};
  static constexpr const char* kFalse[] = {"0", "false", "no", "off"};
  if (!v) return -1;
  for (const char* t : kTrue)
    if (equals_nocase(v, t)) return 1;
  for (const char* f : kFalse)
    if (equals_nocase(v, f)) return 0;
  return -1;
}

int option_name_distance(const char* a, const char* b) {
  // Levenshtein distance over at most 63 characters, one row at a time.
  constexpr int kMax = 64;
  int la = 0, lb = 0;
  while (a[la] && la < kMax - 1) ++la;
  while (b[lb] && lb < kMax - 1) ++lb;
  int row[kMax];
  for (int j = 0; j <= lb; ++j) row[j] = j;
  for (int i = 1; i <= la; ++i) {
    int diag = row[0];
    row[0] = i;
    for (int j = 1; j <= lb; ++j) {
      int up = row[j];
      int cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      int v = diag + cost;
      if (row[j] + 1 < v) v = row[j] + 1;
      if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
      row[j] = v;
      diag = up;
    }
  }
  return row[lb];
}

void parse_options(Options* out, char* problems, std::size_t len) {
  Parser p(problems, len);
  out->topology = p.get("NUMASLAB_TOPOLOGY");
  out->watch_ms = p.get_int("NUMASLAB_WATCH_MS", 0, 3600000);
  out->reap = p.get_bool("NUMASLAB_REAP");
  out->reap_ms = p.get_int("NUMASLAB_REAP_MS", 1, 3600000);
  out->release_delay_ms = p.get_int("NUMASLAB_RELEASE_DELAY_MS", 0, 3600000);
  out->publish = p.get_bool("NUMASLAB_PUBLISH");
  out->lockcheck = p.get_bool("NUMASLAB_LOCKCHECK");
  out->verbose = p.get_bool("NUMASLAB_VERBOSE");
  out->rseq = p.get_bool("NUMASLAB_RSEQ");
  out->cpu_cache_bytes = p.get_int("NUMASLAB_CPU_CACHE_BYTES", 0, 1 << 30);
  out->stats = p.get_bool("NUMASLAB_STATS");
  out->keep_free_bytes = p.get_int("NUMASLAB_KEEP_FREE_BYTES", 0, 1 << 30);
  static constexpr const char* kChecks[] = {"fast", "full"};
  out->check_full = p.get_choice("NUMASLAB_CHECK", kChecks, 2) == 1;
  out->debug = p.get_word_list("NUMASLAB_DEBUG");
  p.unknown_names();
}

const Options& options() {
  pthread_once(&g_once, parse);
  return g_options;
}

const char* options_problem() {
  options();
  return g_problems[0] ? g_problems : nullptr;
}

void report_option_problems(const char* problems) {
  if (!problems || !problems[0]) return;
  while (g_report_lock.test_and_set(std::memory_order_acquire)) {
  }
  if (__builtin_strcmp(problems, g_reported) != 0) {
    format(g_reported, sizeof g_reported, "%s", problems);
    for (const char* line = problems; *line;) {
      const char* end = line;
      while (*end && *end != '\n') ++end;
      char one[256];
      std::size_t n = static_cast<std::size_t>(end - line);
      if (n >= sizeof one) n = sizeof one - 1;
      __builtin_memcpy(one, line, n);
      one[n] = '\0';
      warn("%s", one);
      line = *end ? end + 1 : end;
    }
  }
  g_report_lock.clear(std::memory_order_release);
}

}  // namespace numaslab::detail
