#include "hotplug_driver.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "numaslab/numaslab.h"
#include "real_cpu.h"

namespace stress {

HotplugDriver::HotplugDriver(Shared* shared, bool real, std::vector<int> real_cpus,
                             std::uint64_t seed)
    : sh_(shared), real_(real), real_cpus_(std::move(real_cpus)), rng_(mix64(seed ^ 0x484f54504c5547ull)) {}

void HotplugDriver::start() {
  sh_->gate.enter();
  thread_ = std::thread([this] { run(); });
}

void HotplugDriver::stop_and_join() {
  stop_.store(true, std::memory_order_relaxed);
  sh_->gate.wake();
  if (thread_.joinable()) thread_.join();
}

void HotplugDriver::run() {
  const int interval = sh_->opt->hotplug_interval_ms;
  while (!stop_.load(std::memory_order_relaxed)) {
    sh_->gate.nap(interval, stop_);
    if (stop_.load(std::memory_order_relaxed) || realcpu::interrupted()) break;
    if (sh_->gate.pause_requested()) {
      sh_->gate.park();
      continue;
    }
    if (real_) step_real();
    else step_sim();
    bump(ctr_.steps);
  }
  sh_->gate.leave();
}

int HotplugDriver::do_sim(int cpu, bool up) {
  call(up ? "numaslab_cpu_up" : "numaslab_cpu_down");
  const int rc = up ? numaslab_cpu_up(cpu) : numaslab_cpu_down(cpu);
  done();
  if (rc == 0) bump(up ? ctr_.ups : ctr_.downs);
  else if (rc == -EBUSY) bump(ctr_.ebusy);
  else if (rc == -EALREADY) bump(ctr_.ealready);
  else errors().report("numaslab_cpu_%s(%d) returned %d (%s)", up ? "up" : "down", cpu, rc, std::strerror(-rc));
  return rc;
}

void HotplugDriver::step_sim() {
  const int ncpu = numaslab_num_possible_cpus();
  const int nnodes = numaslab_num_nodes();
  std::vector<int> online, offline;
  std::vector<int> node_online(static_cast<std::size_t>(nnodes), 0);
  for (int c = 0; c < ncpu; ++c) {
    if (numaslab_cpu_online(c) == 1) {
      online.push_back(c);
      ++node_online[static_cast<std::size_t>(numaslab_cpu_to_node(c))];
    } else {
      offline.push_back(c);
    }
  }
  auto pick = [&](const std::vector<int>& v) { return v[rng_.below(static_cast<std::uint32_t>(v.size()))]; };
  auto down = [&](int c) {
    const bool last_of_node = node_online[static_cast<std::size_t>(numaslab_cpu_to_node(c))] == 1;
    if (do_sim(c, false) == 0 && last_of_node) bump(ctr_.last_cpu_of_node_downs);
  };
  const unsigned r = rng_.below(100);
  if (r < 30 && online.size() > 1) {
    // Aim at the last online CPU of a node; failing that, move a node closer
    // to having one left.
    std::vector<int> lone, crowded;
    for (int c : online)
      (node_online[static_cast<std::size_t>(numaslab_cpu_to_node(c))] == 1 ? lone : crowded).push_back(c);
    down(pick(lone.empty() ? crowded : lone));
  } else if (r < 75 && !offline.empty()) {
    do_sim(pick(offline), true);
  } else if (online.size() > 1) {
    down(pick(online));  // never the machine's last online CPU
  } else if (!offline.empty()) {
    do_sim(pick(offline), true);
  }
}

void HotplugDriver::step_real() {
  if (real_cpus_.empty()) return;
  const int cpu = real_cpus_[rng_.below(static_cast<std::uint32_t>(real_cpus_.size()))];
  call("read cpuN/online");
  const int cur = realcpu::read_online(cpu);
  done();
  if (cur < 0) {
    errors().report("real hotplug: reading cpu%d/online failed: %s", cpu, std::strerror(-cur));
    return;
  }
  const bool up = cur == 0;
  bool last_of_node = false;
  if (!up) {
    // Does this leave the node without CPUs (as sysfs sees it)?
    const int node = numaslab_cpu_to_node(cpu);
    last_of_node = true;
    for (int c = 0; c < numaslab_num_possible_cpus(); ++c)
      if (c != cpu && numaslab_cpu_to_node(c) == node && realcpu::read_online(c) != 0) last_of_node = false;
  }
  if (realcpu::interrupted() || stop_.load(std::memory_order_relaxed)) return;
  call(up ? "write 1 > cpuN/online" : "write 0 > cpuN/online");
  const int rc = realcpu::write_online(cpu, up);
  done();
  if (rc == -EBUSY || rc == -EAGAIN) {
    bump(ctr_.ebusy);
    return;
  }
  if (rc != 0) {
    errors().report("real hotplug: writing %d to cpu%d/online failed: %s", up ? 1 : 0, cpu, std::strerror(-rc));
    return;
  }
  bump(up ? ctr_.ups : ctr_.downs);
  if (last_of_node) bump(ctr_.last_cpu_of_node_downs);
  // Make numaslab follow now rather than at its watcher's next tick (either
  // may handle the event). It may take more than one look: the watcher can
  // have read sysfs just before our write.
  for (int attempt = 0;; ++attempt) {
    call("numaslab_watch_poll");
    const int ev = numaslab_watch_poll();
    done();
    if (ev > 0) ctr_.poll_events.fetch_add(static_cast<std::uint64_t>(ev), std::memory_order_relaxed);
    if (numaslab_cpu_online(cpu) == (up ? 1 : 0)) break;
    if (attempt == 0) bump(ctr_.state_lags);
    if (attempt == 20) {
      errors().report("real hotplug: cpu%d is %s in sysfs but numaslab_cpu_online says %d after %d polls",
                      cpu, up ? "online" : "offline", numaslab_cpu_online(cpu), attempt + 1);
      break;
    }
    sh_->gate.nap(10, stop_);
  }
}

bool HotplugDriver::bring_all_up() {
  bool ok = true;
  const int ncpu = numaslab_num_possible_cpus();
  if (real_) {
    if (realcpu::restore_all() != 0) {
      errors().report("real hotplug: could not write 1 to every touched cpuN/online");
      ok = false;
    }
    for (int attempt = 0; attempt < 50; ++attempt) {
      numaslab_watch_poll();
      bool all = true;
      for (int c : real_cpus_)
        if (realcpu::read_online(c) == 1 && numaslab_cpu_online(c) != 1) all = false;
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int c : real_cpus_) {
      if (realcpu::read_online(c) != 1) {
        errors().report("real hotplug: cpu%d is still offline in sysfs after restore", c);
        ok = false;
      } else if (numaslab_cpu_online(c) != 1) {
        errors().report("real hotplug: cpu%d is online in sysfs but numaslab still has it offline", c);
        ok = false;
      }
    }
    return ok;
  }
  for (int c = 0; c < ncpu; ++c) {
    if (numaslab_cpu_online(c) == 1) continue;
    const int rc = do_sim(c, true);
    if (rc != 0 && rc != -EALREADY) ok = false;
    if (numaslab_cpu_online(c) != 1) {
      errors().report("cpu %d still offline after numaslab_cpu_up", c);
      ok = false;
    }
  }
  return ok;
}

}  // namespace stress
