// An outside C++ program using the installed numaslab through find_package,
// built with -fno-exceptions -fno-rtti as well as without (CMakeLists.txt).
#include <cstdio>
#include <cstring>
#include <numaslab/numaslab.hpp>
#include <vector>

struct Point {
  double x, y;
  Point(double a, double b) : x(a), y(b) {}
};

int main() {
  if (numaslab_init("sim:2x2") != 0) return 1;
  numaslab::Cache<Point> points("consumer_point");
  Point* p = points.make(1.0, 2.0);
  if (p->x != 1.0 || p->y != 2.0) return 1;
  points.destroy(p);
  std::vector<int, numaslab::Allocator<int>> v;
  for (int i = 0; i < 1000; ++i) v.push_back(i);
  numaslab::Allocator<int> a;
  numaslab::Allocator<long> b;
  if (a != b || !(a == b)) return 1;
  numaslab::MemoryResource res;
  void* q = res.allocate(100, 8);
  res.deallocate(q, 100, 8);
  if (std::strcmp(numaslab_version(), NUMASLAB_VERSION) != 0) return 1;
  std::printf("consumer++: ok %s\n", numaslab_version());
  return 0;
}
