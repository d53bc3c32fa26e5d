#include "common/process_init.h"

#include <signal.h>
#include <stdlib.h>

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
  gflags::ParseCommandLineFlags(argc, argv, /*remove_flags=*/true);
  google::InitGoogleLogging((*argv)[0]);
  ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace common
