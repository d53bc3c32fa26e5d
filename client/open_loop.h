#ifndef CLIENT_OPEN_LOOP_H_
#define CLIENT_OPEN_LOOP_H_

// RunOpenLoop: open-loop load (`client --load --rate=R`), the question a
// capacity plan asks: at R lines per second arriving on their own schedule,
// what is the latency?
//
// Each connection owns a schedule of R / connections lines per second
// (equal gaps, or exponential ones for Poisson arrivals, from a random
// phase) and sends each line when it is due, whether or not earlier replies
// came back, up to max_in_flight unanswered lines (1 = lock-step, as wrk2:
// a late reply delays the next send, and the delay counts against the
// server). Latency is measured from the due time (corrected for coordinated
// omission) and, separately, from the actual send (service time).
//
// Timing does not rest on sleep granularity: each loop arms a timerfd (ns
// resolution, timer slack 1 ns) to wake options.spin (50 us) before the
// next due line and busy-polls epoll_wait(0) for the rest, so lines leave
// within microseconds of their due time. The time spent polling with
// nothing due is measured and subtracted from the generator's CPU time to
// give its cost per line.
//
// Lines (unique, all of payload_bytes) and their replies are checked byte
// for byte, in order, by client/pipelined_lines.h.
//
// Thread safety: RunOpenLoop() starts and joins its own threads (one epoll
// loop each, owning its connections); options.stop may be set from any
// thread or a signal handler to end the run early with the report so far.

#include "client/load_generator.h"
#include "client/load_report.h"

namespace client {

LoadReport RunOpenLoop(const LoadOptions& options);

}  // namespace client

#endif  // CLIENT_OPEN_LOOP_H_
