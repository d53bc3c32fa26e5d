#ifndef SERVER_METRICS_METRIC_FAMILIES_H_
#define SERVER_METRICS_METRIC_FAMILIES_H_

// Metric families built at scrape time, for prometheus::Collectable
// implementations that read values which already exist elsewhere (the
// server's Stats counters, /proc) instead of keeping prometheus-cpp metric
// objects up to date on every event.
//
// A Collectable's Collect() runs on the scraping thread, once per scrape. It
// reads the current values and returns families made here:
//
//   class EchoStatsCollectable : public prometheus::Collectable {
//    public:
//     explicit EchoStatsCollectable(const Stats* stats) : stats_(stats) {}
//     std::vector<prometheus::MetricFamily> Collect() const override {
//       return {CounterFamily("echo_accepted_total", "Connections accepted.",
//                             stats_->accepted.load(std::memory_order_relaxed)),
//               GaugeFamily("echo_active_sessions", "Sessions being served.",
//                           stats_->active_sessions.load(std::memory_order_relaxed))};
//     }
//    private:
//     const Stats* stats_;
//   };
//
// Names follow Prometheus conventions (base units, counters end in _total);
// an invalid metric or label name is a programmer error and CHECK-fails.
//
// Thread safety: stateless functions.

#include <cstdint>
#include <string>
#include <vector>

#include "prometheus/labels.h"
#include "prometheus/metric_family.h"

namespace server {

// A counter family holding one unlabelled sample.
prometheus::MetricFamily CounterFamily(std::string name, std::string help, double value);

// A gauge family holding one unlabelled sample.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value);

// Families with no sample yet, for series split by label: add one sample per
// label value with AddSample.
prometheus::MetricFamily CounterFamily(std::string name, std::string help);
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);

// A histogram family holding one unlabelled sample: `upper_bounds`
// ascending, `counts` per bucket (not cumulative) plus one last count for
// observations above every bound, and the sum of all observations.
prometheus::MetricFamily HistogramFamily(std::string name, std::string help,
                                         const std::vector<double>& upper_bounds,
                                         const std::vector<uint64_t>& counts, double sum);

// Appends a sample with `labels` (e.g. {{"reason", "idle_timeout"}}) to a
// family made by CounterFamily or GaugeFamily.
void AddSample(prometheus::MetricFamily& family, const prometheus::Labels& labels, double value);

}  // namespace server

#endif  // SERVER_METRICS_METRIC_FAMILIES_H_
