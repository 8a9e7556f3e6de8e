// Publication to /dev/shm through the platform seam: every failure of the
// file's creation (open, ftruncate, the shared mapping) is returned as an
// error and leaves no file behind; a failing sweep of stale files does not
// stop publication; a working publication is removed when it stops.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "fakes/fake_platform.h"
#include "numaslab/numaslab.h"

namespace {

using numaslab::testing_fakes::Call;
using numaslab::testing_fakes::FakePlatform;

std::string my_file() { return "/dev/shm/numaslab." + std::to_string(getpid()); }

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class Publish : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("NUMASLAB_REAP", "0", 1);
    setenv("NUMASLAB_PUBLISH", "0", 1);
    FakePlatform::install();
    ASSERT_EQ(numaslab_init("sim:1x2"), 0);
    ASSERT_FALSE(exists(my_file()));
  }
  void TearDown() override {
    numaslab_publish(0);
    FakePlatform::uninstall();
    EXPECT_FALSE(exists(my_file())) << "left behind";
  }
};

TEST_F(Publish, OpenFailingIsAnErrorAndLeavesNothing) {
  // The first open is the /dev/shm directory (the stale-file sweep), the
  // second the file itself.
  FakePlatform::fail(Call::kOpen, 1, 1);
  EXPECT_EQ(numaslab_publish(1), -EACCES);
  EXPECT_EQ(FakePlatform::failures(Call::kOpen), 1u);
  EXPECT_FALSE(exists(my_file()));
  EXPECT_EQ(numaslab_publish(1), 0) << "a later try succeeds";
  EXPECT_TRUE(exists(my_file()));
  EXPECT_EQ(numaslab_publish(0), 0);
  EXPECT_FALSE(exists(my_file()));
}

TEST_F(Publish, TruncateFailingIsAnErrorAndRemovesTheFile) {
  FakePlatform::fail_next(Call::kTruncate, 1);
  EXPECT_EQ(numaslab_publish(1), -ENOSPC);
  EXPECT_EQ(FakePlatform::failures(Call::kTruncate), 1u);
  EXPECT_FALSE(exists(my_file()));
  EXPECT_EQ(numaslab_publish(1), 0);
  EXPECT_TRUE(exists(my_file()));
}

TEST_F(Publish, MappingFailingIsAnErrorAndRemovesTheFile) {
  FakePlatform::fail_next(Call::kMapFile, 1);
  EXPECT_EQ(numaslab_publish(1), -ENOMEM);
  EXPECT_EQ(FakePlatform::failures(Call::kMapFile), 1u);
  EXPECT_FALSE(exists(my_file()));
  EXPECT_EQ(numaslab_publish(1), 0);
  EXPECT_TRUE(exists(my_file()));
}

TEST_F(Publish, UnreadableShmDirectoryOnlySkipsTheSweep) {
  FakePlatform::fail_next(Call::kOpen, 1);  // the directory
  EXPECT_EQ(numaslab_publish(1), 0);
  EXPECT_EQ(FakePlatform::failures(Call::kOpen), 1u);
  EXPECT_EQ(FakePlatform::calls(Call::kOpen), 2u);
  EXPECT_TRUE(exists(my_file()));
  EXPECT_EQ(numaslab_publish(0), 0);
  EXPECT_FALSE(exists(my_file()));
}

}  // namespace
