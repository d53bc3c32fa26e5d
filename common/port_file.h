#ifndef COMMON_PORT_FILE_H_
#define COMMON_PORT_FILE_H_

// The --port_file hand-shake between the server and whoever starts it (the
// client, the tests, the benchmark tools): the server writes its bound port
// once it is ready to serve; the others wait for the file.
//
// Thread safety: stateless functions.

#include <sys/types.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace common {

// Writes "<port>\n" to `path` atomically (temp file + rename), so a reader
// polling for the file never sees a partial number. Errors name the flag.
// `inode` (if not null) receives the written file's inode, for
// RemovePortFile().
absl::Status WritePortFile(const std::string& path, int port, ino_t* inode = nullptr);

// Removes `path` at exit if it still is the file written as `inode`: another
// instance sharing the path (a rolling restart with --reuse_port) may have
// replaced it since, and its file must stay.
void RemovePortFile(const std::string& path, ino_t inode);

// Polls `path` until it holds a port. DeadlineExceeded once `deadline`
// passes; Unavailable as soon as `keep_waiting()` returns false (e.g. the
// server process died).
absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Time deadline,
                                    absl::FunctionRef<bool()> keep_waiting);

}  // namespace common

#endif  // COMMON_PORT_FILE_H_
