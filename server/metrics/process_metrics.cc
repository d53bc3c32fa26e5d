#include "server/metrics/process_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/unique_fd.h"
#include "glog/logging.h"
#include "server/metrics/metric_families.h"

namespace server {
namespace {

// /proc files report a size of 0: read until EOF.
absl::StatusOr<std::string> ReadProcFile(const char* path) {
  common::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::string contents;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
    if (n == 0) return contents;
    contents.append(buffer, static_cast<size_t>(n));
  }
}

absl::Status Malformed(const char* path, absl::string_view what) {
  return absl::InternalError(absl::StrCat("unexpected contents of ", path, ": ", what));
}

struct Stat {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;  // since boot
  uint64_t vsize_bytes = 0;
  int64_t rss_pages = 0;
};

// proc(5): "pid (comm) state ppid ...". comm may hold spaces and ')', so the
// fields are counted from the last ')'; the first one after it is field 3.
absl::StatusOr<Stat> ReadStat() {
  constexpr const char* kPath = "/proc/self/stat";
  absl::StatusOr<std::string> contents = ReadProcFile(kPath);
  if (!contents.ok()) return contents.status();
  const size_t paren = contents->rfind(')');
  if (paren == std::string::npos) return Malformed(kPath, "no ')'");
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*contents).substr(paren + 1), ' ', absl::SkipWhitespace());
  auto field = [&fields](int number) { return fields[number - 3]; };
  if (fields.size() < 24 - 2) return Malformed(kPath, "too few fields");
  Stat stat;
  if (!absl::SimpleAtoi(field(14), &stat.utime_ticks) ||
      !absl::SimpleAtoi(field(15), &stat.stime_ticks) ||
      !absl::SimpleAtoi(field(22), &stat.start_ticks) ||
      !absl::SimpleAtoi(field(23), &stat.vsize_bytes) ||
      !absl::SimpleAtoi(field(24), &stat.rss_pages)) {
    return Malformed(kPath, "non-numeric field");
  }
  return stat;
}

absl::StatusOr<int64_t> CountOpenFds() {
  constexpr const char* kPath = "/proc/self/fd";
  DIR* dir = ::opendir(kPath);
  if (dir == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("opendir ", kPath));
  const std::string own_fd = std::to_string(::dirfd(dir));
  int64_t count = 0;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name == "." || name == ".." || name == own_fd) continue;
    ++count;
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return absl::ErrnoToStatus(err, absl::StrCat("readdir ", kPath));
  return count;
}

// The soft limit from the "Max open files" row of /proc/self/limits.
absl::StatusOr<double> ReadMaxFds() {
  constexpr const char* kPath = "/proc/self/limits";
  absl::StatusOr<std::string> contents = ReadProcFile(kPath);
  if (!contents.ok()) return contents.status();
  for (absl::string_view line : absl::StrSplit(*contents, '\n')) {
    if (!absl::ConsumePrefix(&line, "Max open files")) continue;
    std::vector<absl::string_view> columns = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (columns.empty()) break;
    if (columns[0] == "unlimited") return std::numeric_limits<double>::infinity();
    uint64_t soft = 0;
    if (!absl::SimpleAtoi(columns[0], &soft)) break;
    return static_cast<double>(soft);
  }
  return Malformed(kPath, "no 'Max open files' row");
}

// Boot time, seconds since the epoch ("btime" row of /proc/stat).
absl::StatusOr<uint64_t> ReadBootTime() {
  constexpr const char* kPath = "/proc/stat";
  absl::StatusOr<std::string> contents = ReadProcFile(kPath);
  if (!contents.ok()) return contents.status();
  for (absl::string_view line : absl::StrSplit(*contents, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    uint64_t btime = 0;
    if (absl::SimpleAtoi(line, &btime)) return btime;
    break;
  }
  return Malformed(kPath, "no 'btime' row");
}

}  // namespace

absl::StatusOr<ProcessSample> ProcessMetrics::Read() {
  absl::StatusOr<Stat> stat = ReadStat();
  if (!stat.ok()) return stat.status();
  absl::StatusOr<int64_t> open_fds = CountOpenFds();
  if (!open_fds.ok()) return open_fds.status();
  absl::StatusOr<double> max_fds = ReadMaxFds();
  if (!max_fds.ok()) return max_fds.status();
  absl::StatusOr<uint64_t> boot_time = ReadBootTime();
  if (!boot_time.ok()) return boot_time.status();

  const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const int64_t page_size = ::sysconf(_SC_PAGESIZE);
  ProcessSample sample;
  sample.cpu_seconds =
      static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks_per_second;
  sample.open_fds = *open_fds;
  sample.max_fds = *max_fds;
  sample.resident_memory_bytes = stat->rss_pages * page_size;
  sample.virtual_memory_bytes = static_cast<int64_t>(stat->vsize_bytes);
  sample.start_time_seconds =
      static_cast<double>(*boot_time) + static_cast<double>(stat->start_ticks) / ticks_per_second;
  return sample;
}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  absl::StatusOr<ProcessSample> sample = Read();
  if (!sample.ok()) {
    LOG_EVERY_N(WARNING, 100) << "process metrics unavailable: " << sample.status();
    return {};
  }
  return {
      CounterFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    sample->cpu_seconds),
      GaugeFamily("process_open_fds", "Number of open file descriptors.",
                  static_cast<double>(sample->open_fds)),
      GaugeFamily("process_max_fds", "Maximum number of open file descriptors.", sample->max_fds),
      GaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                  static_cast<double>(sample->resident_memory_bytes)),
      GaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                  static_cast<double>(sample->virtual_memory_bytes)),
      GaugeFamily("process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.",
                  sample->start_time_seconds),
  };
}

}  // namespace server
