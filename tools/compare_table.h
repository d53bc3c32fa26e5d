#ifndef TOOLS_COMPARE_TABLE_H_
#define TOOLS_COMPARE_TABLE_H_

// CompareTable: //tools:compare's results (servers x cells x rounds) and
// their Markdown rendering. Run-to-run noise on a shared 2-core machine is
// ±10–20%, so a single measurement per cell says little: the table gives,
// per server and cell, the median of each metric across rounds and the
// ratio of the median throughput and median server CPU per operation to a
// baseline server measured in the same rounds; Rounds() lists every
// measurement, so the spread is visible next to the medians.
//
// An "operation" is a round trip in ping-pong cells and a whole connection
// (connect, one line and its reply, close) in connect cells.
//
// Thread safety: none; one thread adds results and renders.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/load_generator.h"
#include "tools/bench_runner.h"

namespace tools {

// One load shape every server is measured at.
struct CompareCell {
  client::LoadOptions::Mode mode;
  int connections;
};

// One row group of the table: `key` is the --servers name (what --baseline
// names), `name` what the table shows.
struct CompareServer {
  std::string key;
  std::string name;
  bool raw = false;
};

class CompareTable {
 public:
  // `baseline` is a key of `servers`, or empty (no ratio columns).
  CompareTable(std::vector<CompareServer> servers, std::vector<CompareCell> cells, int rounds,
               std::string baseline);

  void Add(int server, int cell, int round, const CellResult& result);
  // The server could not be measured (at all, or from this point on);
  // `why` names it (as tools::StartServer's and PeerServer()'s errors do).
  void Fail(int server, const std::string& why);
  bool failed(int server) const { return failed_[server]; }
  bool any_failed() const { return !failures_.empty(); }

  // Medians across rounds, ratios to the baseline, then the failures.
  std::string Medians() const;
  // Every round's throughput and CPU per operation.
  std::string Rounds() const;

 private:
  struct Sample {
    double ops_per_second;
    double p50_us, p99_us, max_us;
    int64_t errors;
    double cpu_us_per_op;
    int64_t served, peak_rss_bytes, threads;
  };
  // Median of `metric` over the measured rounds of (server, cell); nullopt
  // if there are none.
  template <typename Metric>
  std::optional<double> Median(int server, int cell, Metric metric) const;

  std::vector<CompareServer> servers_;
  std::vector<CompareCell> cells_;
  int rounds_;
  int baseline_ = -1;
  std::map<std::pair<int, int>, std::map<int, Sample>> samples_;  // (server, cell) -> round
  std::vector<bool> failed_;
  std::vector<std::string> failures_;
};

}  // namespace tools

#endif  // TOOLS_COMPARE_TABLE_H_
