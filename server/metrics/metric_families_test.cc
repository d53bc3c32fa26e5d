#include "server/metrics/metric_families.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/metric_type.h"
#include "prometheus/text_serializer.h"

namespace server {
namespace {

std::string Serialize(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

TEST(MetricFamiliesTest, OneSampleFamilies) {
  EXPECT_EQ(Serialize({CounterFamily("echo_lines_total", "Lines echoed.", 42),
                       GaugeFamily("echo_queue_depth", "Connections waiting.", 1.5)}),
            "# HELP echo_lines_total Lines echoed.\n"
            "# TYPE echo_lines_total counter\n"
            "echo_lines_total 42\n"
            "# HELP echo_queue_depth Connections waiting.\n"
            "# TYPE echo_queue_depth gauge\n"
            "echo_queue_depth 1.5\n");
}

TEST(MetricFamiliesTest, LabelledSamples) {
  prometheus::MetricFamily closed = CounterFamily("echo_closed_total", "Closed, by reason.");
  EXPECT_EQ(closed.type, prometheus::MetricType::Counter);
  EXPECT_TRUE(closed.metric.empty());
  AddSample(closed, {{"reason", "idle"}}, 3);
  AddSample(closed, {{"reason", "error"}}, 0);
  prometheus::MetricFamily depth = GaugeFamily("echo_depth", "Depth, by queue.");
  AddSample(depth, {{"queue", "a\"b"}}, -2);
  EXPECT_EQ(Serialize({closed, depth}),
            "# HELP echo_closed_total Closed, by reason.\n"
            "# TYPE echo_closed_total counter\n"
            "echo_closed_total{reason=\"idle\"} 3\n"
            "echo_closed_total{reason=\"error\"} 0\n"
            "# HELP echo_depth Depth, by queue.\n"
            "# TYPE echo_depth gauge\n"
            "echo_depth{queue=\"a\\\"b\"} -2\n");
}

TEST(MetricFamiliesTest, HistogramBucketsAreCumulative) {
  EXPECT_EQ(Serialize({HistogramFamily("echo_wait_seconds", "Wait.", {0.1, 1}, {2, 1, 4}, 9.5)}),
            "# HELP echo_wait_seconds Wait.\n"
            "# TYPE echo_wait_seconds histogram\n"
            "echo_wait_seconds_count 7\n"
            "echo_wait_seconds_sum 9.5\n"
            "echo_wait_seconds_bucket{le=\"0.1\"} 2\n"
            "echo_wait_seconds_bucket{le=\"1\"} 3\n"
            "echo_wait_seconds_bucket{le=\"+Inf\"} 7\n");
}

TEST(MetricFamiliesDeathTest, InvalidNamesAreProgrammerErrors) {
  EXPECT_DEATH(CounterFamily("echo lines", "spaces are not allowed", 1), "invalid metric name");
  prometheus::MetricFamily family = GaugeFamily("echo_depth", "Depth.");
  EXPECT_DEATH(AddSample(family, {{"__reserved", "x"}}, 1), "invalid label name");
}

}  // namespace
}  // namespace server
