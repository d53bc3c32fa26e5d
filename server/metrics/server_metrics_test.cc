#include "server/metrics/server_metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace server {
namespace {

using ::testing::HasSubstr;

std::string Exposition(const StatsSnapshot& s, int64_t max_connections) {
  return prometheus::TextSerializer().Serialize(ServerMetrics::Families(s, max_connections));
}

TEST(ServerMetricsTest, EverySeriesCarriesItsCounter) {
  Stats stats;
  WorkerCounters a, b;
  Stats::Add(stats.accepted, 7);
  stats.Reject(RejectReason::kMaxConnections);
  stats.Error(ErrorKind::kSlowReader);
  Stats::Add(stats.active_sessions, 3);
  AddOwned(a.lines, 10);
  AddOwned(b.lines, 5);
  AddOwned(a.busy_ns, 1500000000);
  AddOwned(b.sessions, 2);
  a.queue_wait.Record(absl::Microseconds(20));
  b.session_duration.Record(absl::Seconds(2));
  StatsSnapshot s = stats.Snapshot({&a, &b});
  s.queued_now = 4;
  const std::string text = Exposition(s, 1000);
  EXPECT_THAT(text, HasSubstr("\necho_server_connections_accepted_total 7\n"));
  EXPECT_THAT(text,
              HasSubstr("\necho_server_connections_rejected_total{reason=\"max_connections\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_connections_rejected_total{reason=\"queue_full\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_errors_total{kind=\"slow_reader\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_sessions_active 3\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_queue_depth 4\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_lines_total 15\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_connections_max 1000\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_workers 2\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_worker_busy_seconds_total{worker=\"0\"} 1.5\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_worker_sessions{worker=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_queue_wait_seconds_count 1\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_queue_wait_seconds_bucket{le=\"5e-05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_session_duration_seconds_bucket{le=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\necho_server_session_duration_seconds_bucket{le=\"10\"} 1\n"));
  for (const char* name :
       {"echo_server_sessions_parked", "echo_server_bytes_total", "echo_server_idle_timeouts_total",
        "echo_server_shutdown_goodbyes_total", "echo_server_connections_open",
        "echo_server_sessions_completed_total",
        "echo_server_descriptor_exhaustion_episodes_total"}) {
    EXPECT_THAT(text, HasSubstr(std::string("\n# TYPE ") + name)) << name;
  }
}

TEST(ServerMetricsTest, CollectReadsAFreshSnapshotEachScrape) {
  Stats stats;
  ServerMetrics metrics([&stats] { return stats.Snapshot({}); }, 10);
  auto lines = [&] {
    for (const auto& family : metrics.Collect()) {
      if (family.name == "echo_server_connections_accepted_total") {
        return family.metric.at(0).counter.value;
      }
    }
    return -1.0;
  };
  EXPECT_EQ(lines(), 0);
  Stats::Add(stats.accepted, 2);
  EXPECT_EQ(lines(), 2);
}

}  // namespace
}  // namespace server
