#ifndef COMMON_FLAGFILE_CHECK_H_
#define COMMON_FLAGFILE_CHECK_H_

// FlagfileCheck: refuses a --flagfile that gflags would half-ignore.
//
// gflags checks the values of known flags in a flagfile, but it skips an
// unknown flag there without a word (on the command line it is an error), and
// a line such as `--workers = 2` or `workers=2` is silently something else
// (gflags reads lines not starting with '-' as program-name filters). So a
// typo in /etc/echo-server/flags would start the server on the defaults. This
// reads every flagfile named on the command line, and every one those name,
// before gflags does, and refuses:
//   * a line that is not blank, a `#` comment, `--name=value` or `--name`
//     (a single leading '-' is accepted, as gflags does);
//   * a name that is no registered flag (`--noNAME` counts for a bool NAME);
//   * `--name` without a value for a flag that is not a bool;
//   * a flagfile that cannot be read, is a directory, or includes itself.
// The error names the file, the line number and the flag.
//
// Thread safety: call before any thread starts (it reads gflags' registry).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace common {

// Checks the flagfile lines in `text`, read from `path` (for messages);
// appends the flagfiles it names (`--flagfile=...` lines) to `nested`.
absl::Status CheckFlagfileText(absl::string_view path, absl::string_view text,
                               std::vector<std::string>* nested);

// Checks every --flagfile in argv (`--flagfile=F` or `--flagfile F`), and
// those they name, recursively.
absl::Status CheckFlagfiles(int argc, char** argv);

}  // namespace common

#endif  // COMMON_FLAGFILE_CHECK_H_
