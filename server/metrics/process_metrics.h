#ifndef SERVER_METRICS_PROCESS_METRICS_H_
#define SERVER_METRICS_PROCESS_METRICS_H_

// ProcessMetrics: the standard process_* series every Prometheus client
// library exports, read from procfs at scrape time.
//
// Names, types and meanings follow the Go and Python clients, so dashboards
// and alerts written for any Prometheus target work unchanged:
//
//   process_cpu_seconds_total      counter  user + system CPU time (all threads)
//   process_open_fds               gauge    open file descriptors
//   process_max_fds                gauge    soft RLIMIT_NOFILE (+Inf if unlimited)
//   process_resident_memory_bytes  gauge    resident set size
//   process_virtual_memory_bytes   gauge    virtual memory size
//   process_start_time_seconds     gauge    start time, seconds since the Unix epoch
//
// Sources: /proc/self/stat (utime, stime, starttime, vsize, rss), /proc/self/fd
// (one entry per descriptor; the one used to list the directory is not
// counted), /proc/self/limits ("Max open files") and /proc/stat (btime).
//
// Register it with the metrics endpoint:
//   endpoint->RegisterCollectable(std::make_shared<server::ProcessMetrics>());
//
// Thread safety: stateless; Collect() and Read() may run on any thread,
// concurrently.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace server {

// The figures behind the process_* series.
struct ProcessSample {
  double cpu_seconds = 0;
  int64_t open_fds = 0;
  double max_fds = 0;
  int64_t resident_memory_bytes = 0;
  int64_t virtual_memory_bytes = 0;
  double start_time_seconds = 0;
};

class ProcessMetrics : public prometheus::Collectable {
 public:
  // The six families above, or none if procfs could not be read (logged: a
  // scrape without process_* series is better than a failed scrape).
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Reads this process's figures now. Errors name the file that failed.
  static absl::StatusOr<ProcessSample> Read();
};

}  // namespace server

#endif  // SERVER_METRICS_PROCESS_METRICS_H_
