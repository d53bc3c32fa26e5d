#include "server/stats.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace server {
namespace {

int64_t Get(const std::atomic<int64_t>& c) { return c.load(std::memory_order_relaxed); }

constexpr absl::string_view kRejectNames[kRejectReasons] = {
    "queue_full",    "max_connections", "no_descriptors", "epoll_registration",
    "proxy_missing", "proxy_malformed", "proxy_timeout"};
constexpr absl::string_view kErrorNames[kErrorKinds] = {"line_too_long", "write_timeout",
                                                        "slow_reader", "connection_reset"};

}  // namespace

absl::string_view RejectReasonName(RejectReason reason) {
  return kRejectNames[static_cast<int>(reason)];
}

absl::string_view ErrorKindName(ErrorKind kind) { return kErrorNames[static_cast<int>(kind)]; }

int64_t StatsSnapshot::rejected_total() const {
  int64_t sum = 0;
  for (int64_t n : rejected) sum += n;
  return sum;
}

int64_t StatsSnapshot::errors_total() const {
  int64_t sum = 0;
  for (int64_t n : errors) sum += n;
  return sum;
}

std::vector<std::pair<std::string, int64_t>> StatsSnapshot::Fields() const {
  std::vector<std::pair<std::string, int64_t>> f = {{"accepted", accepted},
                                                    {"rejected", rejected_total()}};
  for (int i = 0; i < kRejectReasons; ++i) {
    f.emplace_back(absl::StrCat("rejected_", kRejectNames[i]), rejected[i]);
  }
  f.insert(f.end(), {{"open", open_connections},
                     {"active", active_sessions},
                     {"parked", parked_sessions},
                     {"completed", sessions_completed},
                     {"queued", queued_now},
                     {"queued_peak", queued_peak},
                     {"lines", lines_echoed},
                     {"bytes", bytes_echoed},
                     {"idle_timeouts", idle_timeouts},
                     {"errors", errors_total()}});
  for (int i = 0; i < kErrorKinds; ++i) {
    f.emplace_back(absl::StrCat("errors_", kErrorNames[i]), errors[i]);
  }
  f.insert(f.end(), {{"emfile_episodes", emfile_episodes},
                     {"shutdown_byes", shutdown_goodbyes},
                     {"health_checks", health_checks}});
  return f;
}

std::string StatsSnapshot::ToString() const { return Line(nullptr, absl::ZeroDuration()); }

std::string StatsSnapshot::ToString(const StatsSnapshot& earlier, absl::Duration elapsed) const {
  return Line(&earlier, elapsed);
}

std::string StatsSnapshot::Line(const StatsSnapshot* earlier, absl::Duration elapsed) const {
  // Counters that get a rate next to them, and their value `earlier`.
  const std::pair<absl::string_view, int64_t> rated[] = {
      {"accepted", earlier != nullptr ? earlier->accepted : 0},
      {"lines", earlier != nullptr ? earlier->lines_echoed : 0},
      {"bytes", earlier != nullptr ? earlier->bytes_echoed : 0}};
  const double seconds = absl::ToDoubleSeconds(elapsed);
  std::string out;
  for (const auto& [key, value] : Fields()) {
    if (value == 0 && key != "accepted" && key != "open") continue;
    absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    if (earlier == nullptr || seconds <= 0) continue;
    for (const auto& [name, before] : rated) {
      if (name != key || value == before) continue;
      absl::StrAppend(&out, " ", key, "_per_s=",
                      absl::StrFormat("%.1f", static_cast<double>(value - before) / seconds));
    }
  }
  const bool any_session =
      std::any_of(workers.begin(), workers.end(), [](const WorkerSnapshot& w) {
        return w.sessions != 0 || w.busy_ns != 0 || w.sessions_moved != 0;
      });
  if (show_workers && any_session) {
    absl::StrAppend(&out, " worker_sessions=",
                    absl::StrJoin(workers, ",",
                                  [](std::string* o, const WorkerSnapshot& w) {
                                    absl::StrAppend(o, w.sessions);
                                  }),
                    " worker_busy_ms=",
                    absl::StrJoin(workers, ",",
                                  [](std::string* o, const WorkerSnapshot& w) {
                                    absl::StrAppend(o, w.busy_ns / 1000000);
                                  }),
                    " worker_moved_out=",
                    absl::StrJoin(workers, ",", [](std::string* o, const WorkerSnapshot& w) {
                      absl::StrAppend(o, w.sessions_moved);
                    }));
  }
  return out;
}

StatsSnapshot Stats::Snapshot(const std::vector<const WorkerCounters*>& workers) const {
  StatsSnapshot s;
  s.accepted = Get(accepted);
  for (int i = 0; i < kRejectReasons; ++i) s.rejected[i] = Get(rejected_[i]);
  s.open_connections = Get(open_connections);
  s.active_sessions = Get(active_sessions);
  s.sessions_completed = Get(sessions_completed);
  s.idle_timeouts = Get(idle_timeouts);
  for (int i = 0; i < kErrorKinds; ++i) s.errors[i] = Get(errors_[i]);
  s.emfile_episodes = Get(emfile_episodes);
  s.shutdown_goodbyes = Get(shutdown_goodbyes);
  s.health_checks = Get(health_checks);
  s.queue_wait = DurationHistogram::Empty(kQueueWaitBounds);
  s.session_duration = DurationHistogram::Empty(kSessionDurationBounds);
  for (const WorkerCounters* w : workers) {
    s.lines_echoed += Get(w->lines);
    s.bytes_echoed += Get(w->bytes);
    s.parked_sessions += Get(w->parked);
    s.workers.push_back({Get(w->sessions), Get(w->parked), Get(w->busy_ns),
                         Get(w->turn_started_ns), Get(w->sessions_moved)});
    w->queue_wait.AddTo(s.queue_wait);
    w->session_duration.AddTo(s.session_duration);
  }
  return s;
}

}  // namespace server
