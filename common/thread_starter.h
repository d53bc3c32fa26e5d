#ifndef COMMON_THREAD_STARTER_H_
#define COMMON_THREAD_STARTER_H_

// Starting threads without aborting the process.
//
// std::thread's constructor throws std::system_error when the kernel refuses
// a thread (EAGAIN: RLIMIT_NPROC, address space, memory), and an uncaught
// throw in a server means `terminate` and exit 134. Running out of threads at
// start-up is an environment problem, not a bug, so it must surface as an
// ordinary error the caller can report and clean up after.
//
// Threads started here carry a name (visible in /proc/PID/task/*/comm, top,
// gdb), so operators and tests can tell the acceptor from worker 3.
//
// Thread safety: StartThread() may be called from any thread.

#include <functional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace common {

// Starts `body` on a new thread named `name` (at most 15 characters are
// kept, the kernel's limit). ResourceExhausted if the thread cannot be made.
absl::StatusOr<std::thread> StartThread(std::string name, std::function<void()> body);

// The number of CPUs this process may run on (its affinity mask, so
// `taskset -c 1 server` counts 1), at least 1.
int UsableCpus();

}  // namespace common

#endif  // COMMON_THREAD_STARTER_H_
