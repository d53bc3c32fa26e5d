#include "server/metric_families.h"

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
