// //tools:capacity: each server's latency-vs-throughput curve under open-loop
// load, and the highest rate it serves within a p99 bound.
//
//   bazel run //tools:capacity -- --servers=default,asio,go,uvloop --bound_us=1000
//
// Method. For each server (this one with default flags, and the peers
// //tools:compare knows: tools/peer_servers.h), pinned as //tools:compare
// pins (server on the last CPU of this process's mask, the generator on the
// first), the offered rate starts at --start_rate and is multiplied by --step
// until two steps in a row fail: p99 (from when each line was due, so
// corrected for coordinated omission) above --bound_us, the achieved rate
// below 95% of the offered one, or any error (with --nostop_at_bound, only
// the last two count, so the curve goes on to saturation). Each step is a fresh server,
// --warmup_ms of load left out, then --duration_ms measured. The capacity is
// the highest rate that passed; the server is then measured again at 50%, 80%
// and 95% of it (p50/p99/p99.9). When the generator itself fell behind its
// schedule (client/load_report.h), the step says so: that limit is the
// generator's, not the server's.
//
// Output: a Markdown table on stdout (and capacity.md), every step in
// capacity.csv, and p99 against offered rate (one line per server, log
// latency axis) as capacity.svg and capacity.png with gnuplot, all in
// --out_dir. Exit status 0 if every server was measured, 1 otherwise, 2 for
// bad flags.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/process_init.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"
#include "tools/peer_flags.h"
#include "tools/peer_servers.h"

DEFINE_string(servers, "default,asio,go,uvloop", "Servers to measure (tools/peer_servers.h).");
DEFINE_double(bound_us, 1000, "p99 bound, microseconds, from when each line was due.");
DEFINE_double(start_rate, 5000, "First offered rate, round trips per second.");
DEFINE_double(step, 1.25, "Each step multiplies the offered rate by this.");
DEFINE_double(max_rate, 1e6, "Stop stepping here.");
DEFINE_int64(duration_ms, 3000, "Measured load per step.");
DEFINE_int64(warmup_ms, 500, "Load before each measurement, left out of it.");
DEFINE_int32(connections, 16, "Connections per step.");
DEFINE_int32(max_in_flight, 1, "Unanswered lines per connection (1 = lock-step, as wrk2).");
DEFINE_int32(load_threads, 1, "Generator threads.");
DEFINE_int32(payload_bytes, 64, "Bytes per line, newline included.");
DEFINE_bool(stop_at_bound, true,
            "Stop stepping once p99 exceeds --bound_us (two steps in a row); false: go on "
            "until the achieved rate falls behind, for the whole curve (e.g. on a busy host).");
DEFINE_bool(pin, true, "Server on the last CPU of this process's mask, generator on the first.");
DEFINE_string(out_dir, "capacity-results", "Output folder (relative to where bazel run started).");

namespace {

struct Point {
  double offered = 0;
  double achieved = 0;
  double p50 = 0, p99 = 0, p999 = 0;  // us, from the due time
  int64_t errors = 0;
  bool generator_behind = false;

  bool Passed() const {
    return p99 <= FLAGS_bound_us && achieved >= 0.95 * offered && errors == 0;
  }
  std::string Why() const {
    if (errors > 0) return absl::StrFormat("%d errors at %.0f/s", errors, offered);
    if (achieved < 0.95 * offered) {
      return absl::StrFormat("achieved %.0f/s of %.0f/s%s", achieved, offered,
                             generator_behind ? " (generator behind)" : "");
    }
    return absl::StrFormat("p99 %.0f us at %.0f/s%s", p99, offered,
                           generator_behind ? " (generator behind)" : "");
  }
};

struct Curve {
  std::string key, name, failure;
  std::vector<Point> steps;
  double capacity = 0;
  std::string stopped;
  std::vector<Point> at;  // 50%, 80%, 95% of capacity
};

constexpr double kFractions[] = {0.5, 0.8, 0.95};

absl::StatusOr<Point> Measure(const tools::ServerSpec& spec, double rate) {
  client::LoadOptions load;
  load.mode = client::LoadOptions::Mode::kPingPong;
  load.connections = FLAGS_connections;
  load.duration = absl::Milliseconds(FLAGS_duration_ms);
  load.warmup = absl::Milliseconds(FLAGS_warmup_ms);
  load.rate = rate;
  load.max_in_flight = FLAGS_max_in_flight;
  load.threads = FLAGS_load_threads;
  load.payload_bytes = FLAGS_payload_bytes;
  auto cell = tools::RunCell(spec, load);
  if (!cell.ok()) return cell.status();
  const client::LoadReport& r = cell->load;
  Point p;
  p.offered = rate;
  p.achieved = r.round_trips_per_second();
  p.p50 = r.latency.Percentile(0.5) / 1000.0;
  p.p99 = r.latency.Percentile(0.99) / 1000.0;
  p.p999 = r.latency.Percentile(0.999) / 1000.0;
  p.errors = r.connect_failures + r.busy + r.timeouts + r.mismatches + r.server_closed + r.eofs +
             r.resets;
  p.generator_behind = r.GeneratorBehind();
  std::fprintf(stderr, "%s @ %.0f/s: achieved %.0f/s, p50 %.1f p99 %.1f p99.9 %.1f us%s%s\n",
               spec.name.c_str(), rate, p.achieved, p.p50, p.p99, p.p999,
               p.errors > 0 ? absl::StrCat(", ", p.errors, " errors").c_str() : "",
               p.generator_behind ? ", generator behind" : "");
  return p;
}

// Steps the rate up until two steps in a row fail, then measures the
// fractions of the capacity found.
void Measure(const tools::ServerSpec& spec, Curve& curve) {
  int failed_in_a_row = 0;
  for (double rate = FLAGS_start_rate; rate <= FLAGS_max_rate; rate *= FLAGS_step) {
    auto point = Measure(spec, rate);
    if (!point.ok()) {
      curve.failure = std::string(point.status().message());
      return;
    }
    curve.steps.push_back(*point);
    const bool kept_up = point->achieved >= 0.95 * rate && point->errors == 0;
    failed_in_a_row = (FLAGS_stop_at_bound ? point->Passed() : kept_up) ? 0 : failed_in_a_row + 1;
    if (failed_in_a_row == 2) break;
  }
  // The capacity: the last passing step before two failing ones in a row
  // (one failure alone is taken for noise).
  curve.stopped = "none up to --max_rate";
  for (size_t i = 0; i < curve.steps.size(); ++i) {
    const Point& p = curve.steps[i];
    if (p.Passed()) {
      curve.capacity = p.offered;
      continue;
    }
    if (i + 1 == curve.steps.size() || !curve.steps[i + 1].Passed()) {
      curve.stopped = p.Why();
      break;
    }
  }
}

std::string Cell(const Point& p) {
  return absl::StrFormat("%.0f / %.0f / %.0f", p.p50, p.p99, p.p999);
}

// p99 against offered rate, one line per server, with gnuplot. False without it.
bool Chart(const std::string& dir, const std::vector<Curve>& curves) {
  std::vector<std::string> plots;
  for (const Curve& c : curves) {
    if (c.steps.empty()) continue;
    const std::string dat = absl::StrCat(dir, "/capacity_", c.key, ".dat");
    std::ofstream out(dat);
    for (const Point& p : c.steps) out << p.offered << " " << p.p99 << " " << p.achieved << "\n";
    plots.push_back(absl::StrCat("'", dat, "' using 1:2 with linespoints lw 2 title '", c.name,
                                 "'"));
  }
  if (plots.empty()) return false;
  plots.push_back(absl::StrCat(FLAGS_bound_us, " with lines dt 2 lc 'gray' title 'p99 bound'"));
  std::ofstream gp(absl::StrCat(dir, "/capacity.gp"));
  for (const std::string& term : {std::string("svg size 900,500 dynamic font 'sans,11'"),
                                  std::string("pngcairo size 900,500 font 'sans,10'")}) {
    gp << "set terminal " << term << "\n"
       << "set output '" << dir << "/capacity." << (term.rfind("svg", 0) == 0 ? "svg" : "png")
       << "'\n"
       << "set title 'p99 latency (from the due time) vs offered rate, " << FLAGS_connections
       << " connections, " << FLAGS_payload_bytes << "-byte lines, loopback'\n"
       << "set logscale y 10\nset grid\nset key outside right top\n"
       << "set xlabel 'offered rate (round trips/s)'\nset ylabel 'p99 latency (us)'\n"
       << "set format x '%.0s%c'\n"
       << "plot " << absl::StrJoin(plots, ", ") << "\n";
  }
  gp.close();
  return std::system(absl::StrCat("gnuplot '", dir, "/capacity.gp' 2>/dev/null").c_str()) == 0;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return common::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess("Capacity curves: bazel run //tools:capacity -- --servers=default,asio",
                      &argc, &argv);
  if (FLAGS_bound_us <= 0 || FLAGS_start_rate <= 0 || FLAGS_step <= 1 ||
      FLAGS_max_rate < FLAGS_start_rate || FLAGS_duration_ms <= 0 || FLAGS_warmup_ms < 0 ||
      FLAGS_connections < 1 || FLAGS_max_in_flight < 1 || FLAGS_load_threads < 1 ||
      FLAGS_payload_bytes < 16) {
    return UsageError(
        "need --bound_us, --start_rate, --duration_ms > 0, --step > 1, --max_rate >= "
        "--start_rate, --warmup_ms >= 0, --connections, --max_in_flight, --load_threads >= 1, "
        "--payload_bytes >= 16");
  }
  const std::vector<std::string> keys = absl::StrSplit(FLAGS_servers, ',', absl::SkipEmpty());
  if (keys.empty()) return UsageError("--servers is empty");
  const std::string dir = tools::OutputPath(FLAGS_out_dir);
  if (std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()) != 0) {
    std::fprintf(stderr, "error: cannot create %s\n", dir.c_str());
    return 1;
  }
  const tools::PeerOptions peer_options = tools::PeerOptionsFromFlags();
  std::vector<Curve> curves;
  std::vector<tools::ServerSpec> specs;
  for (const std::string& key : keys) {  // built before pinning: compilers may use every core
    auto spec = tools::PeerServer(key, peer_options);
    if (absl::IsNotFound(spec.status())) return UsageError(std::string(spec.status().message()));
    Curve curve;
    curve.key = key;
    curve.name = spec.ok() ? spec->name : key;
    if (!spec.ok()) curve.failure = std::string(spec.status().message());
    curves.push_back(curve);
    specs.push_back(spec.ok() ? *spec : tools::ServerSpec{key, {}});
  }
  std::string placement = "unpinned";
  if (FLAGS_pin) {
    const std::vector<int> cpus = tools::AllowedCpus();
    if (cpus.size() < 2) return UsageError("--pin needs two CPUs (or use --pin=false)");
    for (tools::ServerSpec& spec : specs) spec.cpu = cpus.back();
    if (absl::Status pinned = tools::PinThisProcess(cpus.front()); !pinned.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(pinned.message()).c_str());
      return 1;
    }
    placement = absl::StrCat("server on CPU ", cpus.back(), ", generator on CPU ", cpus.front());
  }
  bool failed = false;
  for (size_t i = 0; i < curves.size(); ++i) {
    Curve& c = curves[i];
    if (c.failure.empty()) Measure(specs[i], c);
    for (double f : kFractions) {
      if (!c.failure.empty() || c.capacity <= 0) break;
      auto point = Measure(specs[i], c.capacity * f);
      if (!point.ok()) {
        c.failure = std::string(point.status().message());
        break;
      }
      c.at.push_back(*point);
    }
    if (!c.failure.empty()) {
      failed = true;
      std::fprintf(stderr, "error: %s: %s\n", c.name.c_str(), c.failure.c_str());
    }
  }

  std::ostringstream md;
  md << absl::StrFormat(
      "Open loop (client/open_loop.h), %d connections, --max_in_flight=%d, %d-byte lines, "
      "%lld ms measured after %lld ms warm-up per step, %s; rate from %.0f/s, x%.2f per step. "
      "Capacity: the highest offered rate with p99 <= %.0f us (from when each line was due) "
      "and >= 95%% of it achieved. Latencies p50 / p99 / p99.9 in us.\n\n",
      FLAGS_connections, FLAGS_max_in_flight, FLAGS_payload_bytes,
      static_cast<long long>(FLAGS_duration_ms), static_cast<long long>(FLAGS_warmup_ms),
      placement, FLAGS_start_rate, FLAGS_step, FLAGS_bound_us);
  md << "| server | capacity (round trips/s) | @50% | @80% | @95% | first failed step |\n"
     << "| --- | ---: | ---: | ---: | ---: | --- |\n";
  for (const Curve& c : curves) {
    if (!c.failure.empty()) {
      md << "| " << c.name << " | not measured: " << c.failure << " | | | | |\n";
      continue;
    }
    md << "| " << c.name << " | "
       << (c.capacity > 0 ? absl::StrFormat("%.0f", c.capacity)
                          : absl::StrFormat("< %.0f", FLAGS_start_rate));
    for (size_t k = 0; k < 3; ++k) md << " | " << (k < c.at.size() ? Cell(c.at[k]) : "-");
    md << " | " << c.stopped << " |\n";
  }
  std::ofstream(absl::StrCat(dir, "/capacity.md")) << md.str();
  std::ofstream csv(absl::StrCat(dir, "/capacity.csv"));
  csv << "server,offered,achieved,p50_us,p99_us,p999_us,errors,generator_behind\n";
  for (const Curve& c : curves) {
    for (const Point& p : c.steps) {
      csv << absl::StrFormat("%s,%.0f,%.0f,%.1f,%.1f,%.1f,%d,%d\n", c.key, p.offered, p.achieved,
                             p.p50, p.p99, p.p999, p.errors, p.generator_behind ? 1 : 0);
    }
  }
  csv.close();
  const bool charted = Chart(dir, curves);
  std::printf("%s\nResults in %s: capacity.md, capacity.csv%s\n", md.str().c_str(), dir.c_str(),
              charted ? ", capacity.svg, capacity.png" : " (no chart: gnuplot missing)");
  return failed ? 1 : 0;
}
