#include "server/metrics/metric_families.h"

#include <utility>

#include "glog/logging.h"
#include "prometheus/check_names.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace server {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type) {
  CHECK(prometheus::CheckMetricName(name)) << "invalid metric name '" << name << "'";
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

}  // namespace

prometheus::MetricFamily CounterFamily(std::string name, std::string help) {
  return Family(std::move(name), std::move(help), prometheus::MetricType::Counter);
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  return Family(std::move(name), std::move(help), prometheus::MetricType::Gauge);
}

prometheus::MetricFamily CounterFamily(std::string name, std::string help, double value) {
  prometheus::MetricFamily family = CounterFamily(std::move(name), std::move(help));
  AddSample(family, {}, value);
  return family;
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value) {
  prometheus::MetricFamily family = GaugeFamily(std::move(name), std::move(help));
  AddSample(family, {}, value);
  return family;
}

prometheus::MetricFamily HistogramFamily(std::string name, std::string help,
                                         const std::vector<double>& upper_bounds,
                                         const std::vector<uint64_t>& counts, double sum) {
  CHECK_EQ(counts.size(), upper_bounds.size() + 1);
  prometheus::MetricFamily family =
      Family(std::move(name), std::move(help), prometheus::MetricType::Histogram);
  prometheus::ClientMetric sample;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    cumulative += counts[i];
    sample.histogram.bucket.push_back({cumulative, upper_bounds[i]});
  }
  sample.histogram.sample_count = cumulative + counts.back();
  sample.histogram.sample_sum = sum;
  family.metric.push_back(std::move(sample));
  return family;
}

void AddSample(prometheus::MetricFamily& family, const prometheus::Labels& labels, double value) {
  prometheus::ClientMetric sample;
  for (const auto& [name, label_value] : labels) {
    CHECK(prometheus::CheckLabelName(name)) << "invalid label name '" << name << "'";
    sample.label.push_back({name, label_value});
  }
  switch (family.type) {
    case prometheus::MetricType::Counter:
      sample.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      sample.gauge.value = value;
      break;
    default:
      LOG(FATAL) << "AddSample: family '" << family.name << "' is neither a counter nor a gauge";
  }
  family.metric.push_back(std::move(sample));
}

}  // namespace server
