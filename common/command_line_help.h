#ifndef COMMON_COMMAND_LINE_HELP_H_
#define COMMON_COMMAND_LINE_HELP_H_

// CommandLineHelp: -h / --help, --helpfull and --version for every binary,
// answered before gflags parses the command line.
//
// Why not gflags' own: its --help lists the 40-odd flags of gflags and glog
// first (alphabetically by file: external/... sorts before server/...), so an
// operator scrolls past --tab_completion_columns to find --workers; it knows
// no -h; its help exits 1, which our flag-error hook turns into 2; and its
// --version knows nothing of the build. Here --help shows the usage and the
// binary's own flags (those not defined under external/) and points to
// --helpfull for the rest; all of them exit 0.
//
// Thread safety: call before any thread starts (reads gflags' registry).

#include <string>

namespace common {

// If argv asks for help or the version, prints it to stdout and exits 0;
// otherwise returns. `program` is the name shown (basename of argv[0]).
void HandleHelpAndVersion(int argc, char** argv);

// The --help text: gflags' usage message, then the own flags.
std::string OwnFlagsHelp();

// The --version line for `program`: "server 0.9.0 (commit 1a2b3c4d5e6f)".
std::string VersionLine(const std::string& program);

}  // namespace common

#endif  // COMMON_COMMAND_LINE_HELP_H_
