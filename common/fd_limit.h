#ifndef COMMON_FD_LIMIT_H_
#define COMMON_FD_LIMIT_H_

// Raises this process's descriptor limit (RLIMIT_NOFILE) to its hard limit,
// so one process can hold thousands of connections; returns the resulting
// soft limit. Servers and load generators call it at start-up.

namespace common {

long RaiseFdLimitToMax();

}  // namespace common

#endif  // COMMON_FD_LIMIT_H_
