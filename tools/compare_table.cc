#include "tools/compare_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace tools {
namespace {

const char* ModeName(client::LoadOptions::Mode mode) {
  return mode == client::LoadOptions::Mode::kConnect ? "connect" : "ping-pong";
}

std::string Format(std::optional<double> value, int decimals) {
  return value.has_value() ? absl::StrFormat("%.*f", decimals, *value) : "-";
}

// A message made safe for one Markdown table cell or list item.
std::string OneLine(const std::string& text) {
  return absl::StrReplaceAll(text, {{"\n", " "}, {"|", "\\|"}});
}

}  // namespace

CompareTable::CompareTable(std::vector<CompareServer> servers, std::vector<CompareCell> cells,
                           int rounds, std::string baseline)
    : servers_(std::move(servers)),
      cells_(std::move(cells)),
      rounds_(rounds),
      failed_(servers_.size(), false) {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].key == baseline) baseline_ = static_cast<int>(i);
  }
}

void CompareTable::Add(int server, int cell, int round, const CellResult& result) {
  const client::LoadReport& r = result.load;
  Sample s;
  s.ops_per_second = r.round_trips_per_second();
  s.p50_us = r.latency.Percentile(0.5) / 1000.0;
  s.p99_us = r.latency.Percentile(0.99) / 1000.0;
  s.max_us = r.latency.max() / 1000.0;
  s.errors = r.connect_failures + r.busy + r.timeouts + r.mismatches + r.server_closed;
  s.cpu_us_per_op = result.ServerCpuMicrosPerRoundTrip();
  s.served = r.connections_served;
  s.peak_rss_bytes = result.peak_rss_bytes;
  s.threads = result.max_threads;
  samples_[{server, cell}][round] = s;
}

void CompareTable::Fail(int server, const std::string& why) {
  failed_[server] = true;
  failures_.push_back(why);
}

template <typename Metric>
std::optional<double> CompareTable::Median(int server, int cell, Metric metric) const {
  auto it = samples_.find({server, cell});
  if (it == samples_.end() || it->second.empty()) return std::nullopt;
  std::vector<double> values;
  for (const auto& [round, sample] : it->second) values.push_back(metric(sample));
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string CompareTable::Medians() const {
  const bool ratios = baseline_ >= 0;
  const std::string base = ratios ? servers_[baseline_].key : "";
  std::string out = absl::StrCat(
      "| server | protocol | mode | conns | rounds | served | ops/s | p50 us | p99 us | max us | "
      "errors | server CPU us/op | peak RSS | threads |",
      ratios ? absl::StrCat(" x ", base, " ops/s | x ", base, " CPU/op |") : "",
      "\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: |",
      ratios ? " ---: | ---: |" : "", "\n");
  auto ops = [](const Sample& s) { return s.ops_per_second; };
  auto cpu = [](const Sample& s) { return s.cpu_us_per_op; };
  for (size_t si = 0; si < servers_.size(); ++si) {
    const int server = static_cast<int>(si);
    const CompareServer& row = servers_[si];
    const char* protocol = row.raw ? "raw" : "line";
    bool any = false;
    for (size_t ci = 0; ci < cells_.size(); ++ci) {
      const int cell = static_cast<int>(ci);
      auto it = samples_.find({server, cell});
      if (it == samples_.end() || it->second.empty()) continue;
      any = true;
      int64_t errors = 0;
      int64_t threads = -1;
      for (const auto& [round, s] : it->second) {
        errors += s.errors;
        threads = std::max(threads, s.threads);
      }
      auto median = [&](auto metric) { return Median(server, cell, metric); };
      const std::optional<double> rss =
          median([](const Sample& s) { return static_cast<double>(s.peak_rss_bytes); });
      absl::StrAppendFormat(
          &out, "| %s | %s | %s | %d | %d/%d | %s | %s | %s | %s | %s | %d | %s | %s | %d |",
          row.name, protocol, ModeName(cells_[ci].mode), cells_[ci].connections, it->second.size(),
          rounds_, Format(median([](const Sample& s) { return static_cast<double>(s.served); }), 0),
          Format(median(ops), 0), Format(median([](const Sample& s) { return s.p50_us; }), 1),
          Format(median([](const Sample& s) { return s.p99_us; }), 1),
          Format(median([](const Sample& s) { return s.max_us; }), 1), errors,
          Format(median(cpu), 2), FormatMiB(static_cast<int64_t>(rss.value_or(-1))), threads);
      if (ratios) {
        auto ratio = [&](auto metric) -> std::optional<double> {
          const std::optional<double> mine = Median(server, cell, metric);
          const std::optional<double> theirs = Median(baseline_, cell, metric);
          if (!mine.has_value() || !theirs.has_value() || *theirs <= 0) return std::nullopt;
          return *mine / *theirs;
        };
        absl::StrAppend(&out, " ", Format(ratio(ops), 2), " | ", Format(ratio(cpu), 2), " |");
      }
      absl::StrAppend(&out, "\n");
    }
    if (!any) absl::StrAppend(&out, "| ", row.name, " | - | not measured |\n");
  }
  if (!failures_.empty()) {
    absl::StrAppend(&out, "\nFailures:\n\n");
    for (const std::string& why : failures_) absl::StrAppend(&out, "* ", OneLine(why), "\n");
  }
  return out;
}

std::string CompareTable::Rounds() const {
  std::string out = "| server | mode | conns |";
  std::string rule = "| --- | --- | ---: |";
  for (int r = 0; r < rounds_; ++r) {
    absl::StrAppend(&out, " round ", r + 1, " |");
    absl::StrAppend(&rule, " ---: |");
  }
  absl::StrAppend(&out, "\n", rule, "\n");
  for (size_t si = 0; si < servers_.size(); ++si) {
    for (size_t ci = 0; ci < cells_.size(); ++ci) {
      auto it = samples_.find({static_cast<int>(si), static_cast<int>(ci)});
      if (it == samples_.end() || it->second.empty()) continue;
      absl::StrAppend(&out, "| ", servers_[si].name, " | ", ModeName(cells_[ci].mode), " | ",
                      cells_[ci].connections, " |");
      for (int r = 0; r < rounds_; ++r) {
        auto sample = it->second.find(r);
        if (sample == it->second.end()) {
          absl::StrAppend(&out, " - |");
        } else {
          absl::StrAppendFormat(&out, " %.0f / %.2f |", sample->second.ops_per_second,
                                sample->second.cpu_us_per_op);
        }
      }
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

}  // namespace tools
