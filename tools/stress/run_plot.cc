#include "run_plot.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "numaslab/numaslab.h"

namespace stress {

void RunPlot::sample(double t_s, std::uint64_t total_ops) {
  Sample s;
  s.t_s = t_s;
  const double dt = t_s - last_t_;
  s.ops_per_s = dt > 0 ? static_cast<double>(total_ops - last_ops_) / dt : 0;
  last_t_ = t_s;
  last_ops_ = total_ops;
  s.online.assign(static_cast<std::size_t>(nodes_), 0);
  for (int c = 0; c < numaslab_num_possible_cpus(); ++c) {
    const int n = numaslab_cpu_to_node(c);
    if (n >= 0 && n < nodes_ && numaslab_cpu_online(c) == 1)
      ++s.online[static_cast<std::size_t>(n)];
  }
  for (int n = 0; n < nodes_; ++n)
    s.mib.push_back(static_cast<double>(numaslab_node_bytes(n)) / (1024.0 * 1024.0));
  numaslab_hotplug_stats hs{};
  numaslab_get_hotplug_stats(&hs);
  s.downs = hs.downs;
  s.ups = hs.ups;
  samples_.push_back(std::move(s));
}

namespace {
std::string quote(const std::string& s) {
  std::string q = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') q += '\\';
    q += ch;
  }
  return q + "\"";
}
}  // namespace

std::string RunPlot::write_png(const std::string& png) const {
  if (samples_.size() < 2) return "the run was too short to plot (fewer than 2 samples)";
  char tmpl[] = "/tmp/numaslab-stress-plot.XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (!dir) return "mkdtemp failed";
  const std::string data = std::string(dir) + "/run.dat";
  const std::string script = std::string(dir) + "/run.gp";
  {
    // Columns: t ops/s downs ups downs_in_sample ups_in_sample online[n]... mib[n]...
    std::ofstream d(data);
    unsigned long long prev_down = 0, prev_up = 0;
    for (const Sample& s : samples_) {
      d << s.t_s << " " << s.ops_per_s << " " << s.downs << " " << s.ups << " "
        << (s.downs - prev_down) << " " << (s.ups - prev_up);
      prev_down = s.downs;
      prev_up = s.ups;
      for (int v : s.online) d << " " << v;
      for (double v : s.mib) d << " " << v;
      d << "\n";
    }
  }
  const int online_col = 7, mib_col = 7 + nodes_;
  {
    std::ofstream g(script);
    g << "set terminal pngcairo size 1200,1000 enhanced font 'DejaVu Sans,10'\n"
      << "set output " << quote(png) << "\n"
      << "set multiplot layout 4,1 title " << quote(title_) << "\n"
      << "set grid\nset key outside right top vertical\nset lmargin 12\nset rmargin 22\n"
      << "set format x ''\n"
      << "set ylabel 'operations/s'\nset yrange [0:*]\n"
      << "plot " << quote(data) << " using 1:2 with lines lw 2 title 'all workers'\n"
      << "set ylabel 'online CPUs'\nset yrange [-0.2:*]\nset ytics 1\n"
      << "plot for [n=0:" << nodes_ - 1 << "] " << quote(data) << " using 1:(column(" << online_col
      << "+n)) with steps lw 2 title sprintf('node %d', n)\n"
      << "set ylabel 'MiB held'\nset yrange [0:*]\nset ytics autofreq\n"
      << "plot for [n=0:" << nodes_ - 1 << "] " << quote(data) << " using 1:(column(" << mib_col
      << "+n)) with lines lw 2 title sprintf('node %d', n)\n"
      << "set format x '%g'\nset xlabel 'seconds'\n"
      << "set ylabel 'hotplug events'\nset yrange [0:*]\n"
      << "plot " << quote(data) << " using 1:3 with steps lw 2 title 'CPU downs (total)', "
      << quote(data) << " using 1:4 with steps lw 2 title 'CPU ups (total)', " << quote(data)
      << " using 1:($5+$6) with impulses lw 3 title 'events per sample'\n"
      << "unset multiplot\n";
  }
  const std::string cmd = "gnuplot " + quote(script) + " 2>&1";
  std::string err;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) err += buf;
    const int st = pclose(p);
    if (st != 0)
      err = "gnuplot failed (status " + std::to_string(st) +
            "; Debian: apt-get install gnuplot-nox): " + err;
    else
      err.clear();
  } else {
    err = "cannot run gnuplot";
  }
  std::remove(data.c_str());
  std::remove(script.c_str());
  ::rmdir(dir);
  return err;
}

}  // namespace stress
