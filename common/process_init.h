#ifndef COMMON_PROCESS_INIT_H_
#define COMMON_PROCESS_INIT_H_

// Start-up shared by the server and client binaries:
//  * glog logs to stderr unless the user asks otherwise (glog's default of
//    writing files under the temp directory surprises anyone using
//    `bazel run`);
//  * -h/--help (the binary's own flags), --helpfull and --version are
//    answered first, with exit 0 (common/command_line_help.h);
//  * flags are parsed by gflags, and any flag error (unknown flag, malformed
//    value) exits with status 2, the conventional usage-error code, instead of
//    gflags' 1, so scripts can tell "you called me wrong" from "it failed";
//  * a --flagfile with a line gflags would skip (an unknown flag, a
//    malformed line) is refused the same way, naming the file and the line
//    (common/flagfile_check.h);
//  * SIGPIPE is ignored process-wide (belt and braces: every send also uses
//    MSG_NOSIGNAL).
//
// Call once, first thing in main(), before any thread starts.

namespace common {

inline constexpr int kExitUsage = 2;

// Parses flags; argv keeps the program name and the positional arguments.
void InitProcess(const char* usage, int* argc, char*** argv);

}  // namespace common

#endif  // COMMON_PROCESS_INIT_H_
