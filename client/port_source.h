#ifndef CLIENT_PORT_SOURCE_H_
#define CLIENT_PORT_SOURCE_H_

// PortSource: where the client's server port comes from, --port or
// --port_file, checked so that a mistake is named at once instead of
// connecting somewhere else or waiting out the timeout:
//  * --port must be 1..65535 (gflags' int32 would let 99999 wrap into a
//    different port and pass -1 to the resolver);
//  * --port and --port_file together are refused (which one would win?);
//  * a relative --port_file is resolved against BUILD_WORKING_DIRECTORY when
//    set (under `bazel run` the working directory is the runfiles tree, not
//    the user's);
//  * a port file that does not exist yet is waited for until the deadline:
//    that is a server still starting (the server writes it atomically once
//    it serves, and removes it at exit); a directory, an unreadable file or
//    content that is not a port is an error at once, saying which.
//
// Thread safety: stateless functions.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace client {

// InvalidArgument (a usage error) naming the flag, or OK.
// `port_given`: --port was set on the command line.
absl::Status CheckPortFlags(int port, bool port_given, const std::string& port_file);

// `path` made absolute against `build_working_directory` if it is relative
// and that is set (non-null, non-empty).
std::string ResolvePortFilePath(const std::string& path, const char* build_working_directory);

// The port in `path`. DeadlineExceeded if the file has not appeared by
// `deadline`; FailedPrecondition at once for a directory, an unreadable
// file, or content that is not one port number 1..65535.
absl::StatusOr<int> ReadPortFile(const std::string& path, absl::Time deadline);

}  // namespace client

#endif  // CLIENT_PORT_SOURCE_H_
