#ifndef COMMON_VERBOSE_LOG_H_
#define COMMON_VERBOSE_LOG_H_

// Verbose logging (--v=N) without per-call-site state.
//
// glog's VLOG(n) keeps a lazily initialized static per call site, set up by
// the first thread that reaches it; when several workers reach a site at
// once they race on it (benignly: they store the same value). That race
// still fails a ThreadSanitizer run whenever the report's stacks cannot be
// symbolized for the suppression to match (with the descriptor table full,
// for one). These macros read --v directly instead, which is written once,
// at start-up, before any thread runs: --v=1 logs VERBOSE(1) lines as it
// would VLOG(1) lines (--vmodule does not apply to them).
//
// Thread safety: like LOG(INFO).

#include "glog/logging.h"

#define VERBOSE_ON(level) (FLAGS_v >= (level))
#define VERBOSE(level) LOG_IF(INFO, VERBOSE_ON(level))

#endif  // COMMON_VERBOSE_LOG_H_
