#include "server/metrics/process_metrics.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"
#include "prometheus/metric_type.h"

namespace server {
namespace {

ProcessSample ReadOrDie() {
  absl::StatusOr<ProcessSample> sample = ProcessMetrics::Read();
  EXPECT_TRUE(sample.ok()) << sample.status();
  return sample.value_or(ProcessSample{});
}

double CpuSecondsFromRusage() {
  rusage usage{};
  EXPECT_EQ(::getrusage(RUSAGE_SELF, &usage), 0);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

TEST(ProcessMetricsTest, CollectsTheStandardFamilies) {
  std::vector<prometheus::MetricFamily> families = ProcessMetrics().Collect();
  const std::vector<std::pair<std::string, prometheus::MetricType>> expected = {
      {"process_cpu_seconds_total", prometheus::MetricType::Counter},
      {"process_open_fds", prometheus::MetricType::Gauge},
      {"process_max_fds", prometheus::MetricType::Gauge},
      {"process_resident_memory_bytes", prometheus::MetricType::Gauge},
      {"process_virtual_memory_bytes", prometheus::MetricType::Gauge},
      {"process_start_time_seconds", prometheus::MetricType::Gauge},
  };
  ASSERT_EQ(families.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(families[i].name, expected[i].first);
    EXPECT_EQ(families[i].type, expected[i].second) << families[i].name;
    EXPECT_FALSE(families[i].help.empty()) << families[i].name;
    ASSERT_EQ(families[i].metric.size(), 1u) << families[i].name;
    EXPECT_TRUE(families[i].metric[0].label.empty()) << families[i].name;
  }
  EXPECT_GE(families[0].metric[0].counter.value, 0);
  EXPECT_GT(families[1].metric[0].gauge.value, 0);
}

TEST(ProcessMetricsTest, OpenFdsCountsEachDescriptor) {
  const int64_t before = ReadOrDie().open_fds;
  std::vector<common::UniqueFd> fds;
  for (int i = 0; i < 5; ++i) {
    fds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fds.back().valid());
  }
  EXPECT_EQ(ReadOrDie().open_fds, before + 5);
  fds.clear();
  EXPECT_EQ(ReadOrDie().open_fds, before);
}

TEST(ProcessMetricsTest, MaxFdsIsTheSoftLimit) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_NE(limit.rlim_cur, RLIM_INFINITY);
  EXPECT_EQ(ReadOrDie().max_fds, static_cast<double>(limit.rlim_cur));

  // Lowering the soft limit shows at the next read.
  rlimit lower = limit;
  lower.rlim_cur = limit.rlim_cur / 2;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lower), 0);
  EXPECT_EQ(ReadOrDie().max_fds, static_cast<double>(lower.rlim_cur));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
}

TEST(ProcessMetricsTest, CpuSecondsAgreesWithGetrusage) {
  // procfs counts clock ticks (1/100 s); getrusage is finer.
  EXPECT_NEAR(ReadOrDie().cpu_seconds, CpuSecondsFromRusage(), 0.05);

  const double before = ReadOrDie().cpu_seconds;
  const double target = CpuSecondsFromRusage() + 0.2;
  volatile uint64_t spin = 0;
  while (CpuSecondsFromRusage() < target) {
    for (int i = 0; i < 100000; ++i) spin = spin + 1;
  }
  EXPECT_GE(ReadOrDie().cpu_seconds, before + 0.15);
}

TEST(ProcessMetricsTest, ResidentMemoryGrowsWithTouchedPages) {
  const ProcessSample before = ReadOrDie();
  EXPECT_GT(before.resident_memory_bytes, 0);
  EXPECT_GE(before.virtual_memory_bytes, before.resident_memory_bytes);

  constexpr int64_t kBytes = 64 << 20;
  std::vector<char> block(kBytes, 1);  // every page written
  const ProcessSample after = ReadOrDie();
  EXPECT_GE(after.resident_memory_bytes, before.resident_memory_bytes + kBytes * 3 / 4);
  EXPECT_GE(after.virtual_memory_bytes, after.resident_memory_bytes);
  EXPECT_EQ(block[kBytes - 1], 1);
}

TEST(ProcessMetricsTest, StartTimeIsWhenTheProcessStarted) {
  // A child started now reads its own start time and reports it on a pipe.
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  common::UniqueFd read_end(pipe_fds[0]);
  common::UniqueFd write_end(pipe_fds[1]);
  const absl::Time before_fork = absl::Now();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    absl::StatusOr<ProcessSample> sample = ProcessMetrics::Read();
    char text[64];
    const int n = std::snprintf(text, sizeof(text), "%.3f",
                                sample.ok() ? sample->start_time_seconds : -1.0);
    const bool written = ::write(write_end.get(), text, n) == n;
    ::_exit(written ? 0 : 1);
  }
  write_end.Reset();
  std::string reported;
  char buffer[64];
  ssize_t n;
  while ((n = ::read(read_end.get(), buffer, sizeof(buffer))) > 0) reported.append(buffer, n);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const absl::Time after_exit = absl::Now();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  double start_seconds = 0;
  ASSERT_TRUE(absl::SimpleAtod(reported, &start_seconds)) << reported;
  // procfs gives boot time in whole seconds and the start in ticks since
  // boot, so the figure may read up to a second early.
  EXPECT_GE(start_seconds, absl::ToDoubleSeconds(before_fork - absl::UnixEpoch()) - 2.0);
  EXPECT_LE(start_seconds, absl::ToDoubleSeconds(after_exit - absl::UnixEpoch()) + 1.0);
}

}  // namespace
}  // namespace server
