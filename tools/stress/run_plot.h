// numaslab-stress --plot FILE.png: a picture of the run.
//
// RunPlot keeps one sample per interval (time, operations per second, online
// CPUs per node, bytes per node, hotplug downs and ups so far) and draws them
// with gnuplot (Debian: gnuplot-nox) as four stacked panels sharing the time
// axis; the hotplug panel marks every interval with a down or up event. The
// sampler is the main thread only; no locking.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stress {

class RunPlot {
 public:
  RunPlot(int nodes, std::string title) : nodes_(nodes), title_(std::move(title)) {}

  // t_s: seconds since the start; total_ops: operations so far (all workers).
  void sample(double t_s, std::uint64_t total_ops);
  std::size_t samples() const { return samples_.size(); }
  // Writes the PNG; "" on success, else what went wrong.
  std::string write_png(const std::string& png) const;

 private:
  struct Sample {
    double t_s;
    double ops_per_s;
    std::vector<int> online;        // per node
    std::vector<double> mib;        // per node
    unsigned long long downs, ups;  // numaslab_get_hotplug_stats, cumulative
  };
  int nodes_;
  std::string title_;
  std::vector<Sample> samples_;
  double last_t_ = 0;
  std::uint64_t last_ops_ = 0;
};

}  // namespace stress
