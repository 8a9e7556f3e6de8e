#!/bin/sh
# ctest wrapper for stress_real_hotplug: runs numaslab-stress with real CPU
# hotplug only when NUMASLAB_REAL_HOTPLUG=1 (it takes real CPUs offline and
# needs root); otherwise exits 77, which ctest reports as skipped.
#   usage: real_hotplug_test.sh /path/to/numaslab-stress ARGS...
if [ "${NUMASLAB_REAL_HOTPLUG:-0}" != "1" ]; then
  echo "stress_real_hotplug: skipped (set NUMASLAB_REAL_HOTPLUG=1 to run; needs root, takes CPU 1 offline)"
  exit 77
fi
if [ "$(id -u)" != "0" ]; then
  echo "stress_real_hotplug: skipped (needs root)"
  exit 77
fi
if [ ! -w /sys/devices/system/cpu/cpu1/online ]; then
  echo "stress_real_hotplug: skipped (/sys/devices/system/cpu/cpu1/online is not writable)"
  exit 77
fi
tool="$1"
shift
"$tool" "$@"
rc=$?
echo "after the run: /sys/devices/system/cpu/online = $(cat /sys/devices/system/cpu/online)"
exit $rc
