#include "common/process_init.h"

#include <signal.h>
#include <stdlib.h>

#include <iostream>

#include "common/command_line_help.h"
#include "common/flagfile_check.h"
#include "gflags/gflags.h"
#include "glog/logging.h"

// gflags reports a bad command line through this hook (it exists so gflags'
// own tests can intercept exits); it is not in a public header.
namespace gflags {
extern void (*gflags_exitfunc)(int);
}  // namespace gflags

namespace common {
namespace {

[[noreturn]] void ExitForFlags(int code) { ::exit(code == 0 ? 0 : kExitUsage); }

}  // namespace

void InitProcess(const char* usage, int* argc, char*** argv) {
  FLAGS_logtostderr = true;
  gflags::gflags_exitfunc = &ExitForFlags;
  gflags::SetUsageMessage(usage);
  // -h, --help (own flags first), --helpfull, --version: print, exit 0.
  HandleHelpAndVersion(*argc, *argv);
  // gflags skips unknown flags in a flagfile; refuse them as on the command
  // line (common/flagfile_check.h).
  absl::Status flagfiles = CheckFlagfiles(*argc, *argv);
  if (!flagfiles.ok()) {
    std::cerr << "error: " << flagfiles.message() << "\n";
    ::exit(kExitUsage);
  }
  gflags::ParseCommandLineFlags(argc, argv, /*remove_flags=*/true);
  google::InitGoogleLogging((*argv)[0]);
  ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace common
