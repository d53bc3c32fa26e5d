#ifndef TESTS_SUBPROCESS_H_
#define TESTS_SUBPROCESS_H_

// Subprocess: runs a binary for an integration test, with stdin from a
// string, stdout/stderr captured to files (no pipe can fill up and stall the
// child), an optional descriptor limit, and bounded waits. The destructor
// kills a child that is still running, so a failing test never leaks one.
//
// Thread safety: one object per thread.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tests {

struct SubprocessOptions {
  std::optional<std::string> stdin_data;  // nullopt: /dev/null
  int rlimit_nofile = 0;                  // 0: inherit
};

class Subprocess {
 public:
  Subprocess(std::string binary, std::vector<std::string> args, SubprocessOptions options = {});
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

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// A path under the test's private temp directory.
std::string TempPath(const std::string& name);

// A runfiles path such as "server/server" made absolute.
std::string Runfile(const std::string& path);

}  // namespace tests

#endif  // TESTS_SUBPROCESS_H_
