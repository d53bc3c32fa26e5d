#ifndef COMMON_SUBPROCESS_H_
#define COMMON_SUBPROCESS_H_

// Subprocess: runs a binary (for integration tests and benchmark tools), with
// stdin from a string, stdout/stderr captured to files (no pipe can fill up
// and stall the child), optional descriptor and address-space limits, an
// optional CPU, and bounded waits. The destructor kills a child that is still
// running, so a failing test never leaks one.
// Also reads the child's resource use (CPU time, peak RSS, threads) from /proc.
//
// Thread safety: one object per thread.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace common {

struct SubprocessOptions {
  std::optional<std::string> stdin_data;  // nullopt: /dev/null
  // Resource limits set in the child before exec (soft = hard = value),
  // e.g. {{RLIMIT_NOFILE, 64}}; anything not listed is inherited.
  std::map<int, int64_t> rlimits;
  bool as_nobody = false;                 // drop root to uid/gid 65534 (nobody)
  // >= 0: the child (and every thread it starts) runs on this CPU only, set
  // with sched_setaffinity() before exec, so benchmarks can keep a server
  // and its load generator on separate cores (the child exits 126 if that
  // CPU is not available to it). -1: inherit the parent's mask.
  int cpu = -1;
};

class Subprocess {
 public:
  Subprocess(std::string binary, std::vector<std::string> args,
             const SubprocessOptions& options = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);

  // Waits for exit; returns the exit code (128+N if killed by signal N), or
  // nullopt if it is still running at `timeout`.
  std::optional<int> Wait(absl::Duration timeout);
  bool Running();

  std::string Stdout() const;
  std::string Stderr() const;

  // CPU time (user+system) the child has used so far, from /proc.
  absl::Duration CpuTime() const;
  // From /proc/PID/status while running: peak and current resident set
  // (bytes), thread count; -1 if unavailable.
  // After exit: the peak last seen while Wait() polled (it reads it between
  // polls, so a shutdown's peak is kept).
  int64_t PeakRssBytes() const;
  int64_t RssBytes() const { return StatusField("VmRSS:") * 1024; }
  int64_t Threads() const { return StatusField("Threads:"); }
  // Open descriptors (entries of /proc/PID/fd), -1 if unavailable.
  int64_t OpenFds() const;
  // Voluntary context switches (times a thread went to sleep, e.g. in
  // epoll_wait, and was woken) summed over the child's threads whose name
  // starts with `thread_prefix`; a count of wake-ups, not a timing.
  int64_t VoluntarySwitches(const std::string& thread_prefix) const;
  // The same for the main thread alone (the task whose id is the pid).
  int64_t MainThreadVoluntarySwitches() const;

 private:
  int64_t StatusField(const std::string& key) const;

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  mutable int64_t peak_rss_kib_ = -1;
  std::string stdout_path_;
  std::string stderr_path_;
};

// A path under the test's private temp directory ($TEST_TMPDIR, else /tmp).
std::string TempPath(const std::string& name);

// A runfiles path such as "server/server" made absolute: under `bazel test`
// from $TEST_SRCDIR, otherwise through Bazel's runfiles library (so tools run
// as bazel-bin/tools/X from any directory, not only under `bazel run`), else
// the workspace path (as given, or under bazel-bin/) if it exists.
std::string Runfile(const std::string& path);

}  // namespace common

#endif  // COMMON_SUBPROCESS_H_
