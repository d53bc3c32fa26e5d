#include "server/stats.h"

#include "absl/strings/str_cat.h"

namespace server {

std::string StatsSnapshot::ToString() const {
  return absl::StrCat(
      "accepted=", accepted, " rejected_busy=", rejected_busy,
      " active=", active_sessions, " parked=", parked_sessions,
      " completed=", sessions_completed, " queued=", queued_now,
      " queued_peak=", queued_peak, " lines=", lines_echoed, " bytes=", bytes_echoed,
      " idle_timeouts=", idle_timeouts, " errors=", errors,
      " emfile_episodes=", emfile_episodes, " shutdown_byes=", shutdown_goodbyes);
}

StatsSnapshot Stats::Snapshot(int64_t queued_now, int64_t queued_peak,
                             int64_t parked_now) const {
  auto get = [](const std::atomic<int64_t>& c) { return c.load(std::memory_order_relaxed); };
  StatsSnapshot s;
  s.accepted = get(accepted);
  s.rejected_busy = get(rejected_busy);
  s.active_sessions = get(active_sessions);
  s.parked_sessions = parked_now;
  s.sessions_completed = get(sessions_completed);
  s.queued_now = queued_now;
  s.queued_peak = queued_peak;
  s.lines_echoed = get(lines_echoed);
  s.bytes_echoed = get(bytes_echoed);
  s.idle_timeouts = get(idle_timeouts);
  s.errors = get(errors);
  s.emfile_episodes = get(emfile_episodes);
  s.shutdown_goodbyes = get(shutdown_goodbyes);
  return s;
}

}  // namespace server
