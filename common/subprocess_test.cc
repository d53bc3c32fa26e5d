#include "common/subprocess.h"

#include <sched.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace common {
namespace {

// The CPUs the test may run on, as /proc/self/status lists them.
std::string AllowedList(const Subprocess& process) {
  const std::string out = process.Stdout();
  const size_t tab = out.find('\t');
  return tab == std::string::npos ? out : out.substr(tab + 1);
}

TEST(SubprocessTest, InheritsTheCpuMaskByDefault) {
  Subprocess process("/bin/grep", {"Cpus_allowed_list:", "/proc/self/status"});
  ASSERT_EQ(process.Wait(absl::Seconds(30)), 0) << process.Stderr();
  EXPECT_FALSE(AllowedList(process).empty());
}

TEST(SubprocessTest, PinsTheChildToOneCpu) {
  cpu_set_t mask;
  ASSERT_EQ(::sched_getaffinity(0, sizeof(mask), &mask), 0);
  int last = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &mask)) last = cpu;
  }
  ASSERT_GE(last, 0);
  SubprocessOptions options;
  options.cpu = last;
  Subprocess process("/bin/grep", {"Cpus_allowed_list:", "/proc/self/status"}, options);
  ASSERT_EQ(process.Wait(absl::Seconds(30)), 0) << process.Stderr();
  EXPECT_EQ(AllowedList(process), absl::StrCat(last, "\n"));
}

TEST(SubprocessTest, ExitsWith126WhenTheCpuIsNotAvailable) {
  cpu_set_t mask;
  ASSERT_EQ(::sched_getaffinity(0, sizeof(mask), &mask), 0);
  int missing = CPU_SETSIZE - 1;
  while (missing >= 0 && CPU_ISSET(missing, &mask)) --missing;
  ASSERT_GE(missing, 0);
  SubprocessOptions options;
  options.cpu = missing;
  Subprocess process("/bin/true", {}, options);
  EXPECT_EQ(process.Wait(absl::Seconds(30)), 126);
}

}  // namespace
}  // namespace common
