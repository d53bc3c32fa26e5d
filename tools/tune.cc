// //tools:tune: measures throughput and latency for each pool size and each
// connection count, writes a Markdown table, a CSV and an SVG chart, and
// recommends a pool size per concurrency (the smallest within 5% of the best
// throughput).
//
//   bazel run //tools:tune -- --connections=1,16,256
//   bazel run //tools:tune -- --model=classic --workers=1,2,4,8,16,64,256
//
// The default pool sizes follow the model: in the event model a worker is
// an event loop on its own CPU, so pools past the CPU count only share the
// same CPUs (1 ... CPUs are the sizes worth comparing); the classic model
// needs a thread per connection served, so it tries large counts.
//
// Results go to --out_dir: by default out/tune in the workspace under
// `bazel run` (out/ is git-ignored), else a folder under /tmp, never loose
// files in the checkout. tune.md and tune.csv start with the conditions
// (model, duration, date, CPUs, flags), so a result file says what it is.
//
// Each (workers, connections) cell starts a fresh optimized server on a free
// port (so peak RSS is per cell), runs the closed-loop ping-pong load for
// --duration_ms and stops the server. In the event model (the default) every
// connection is served whatever the pool size, and the pool size is how many
// CPUs the server may use at once; in the classic model (--model=classic)
// connections beyond the pool wait in the queue and are never served during
// the run: the "served" column shows it.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/process_init.h"
#include "gflags/gflags.h"
#include "tools/bench_runner.h"

DEFINE_string(workers, "",
              "Pool sizes to try (default: event model 1 ... the CPUs this process may use, "
              "classic 1,2,4,8,16,64,256).");
DEFINE_string(model, "event", "Scheduling model to tune: event or classic.");
DEFINE_string(connections, "1,16,256", "Concurrent connections to try.");
DEFINE_int32(payload_bytes, 64, "Bytes per line, newline included.");
DEFINE_int64(duration_ms, 3000, "Load duration per cell.");
DEFINE_string(out_dir, "",
              "Output folder, relative to where bazel run started (default: out/tune in the "
              "workspace under bazel run, which git ignores; else /tmp/echo-tune).");
DEFINE_string(server_flags, "", "Extra server flags, space-separated.");

namespace {

struct Row {
  int workers;
  int connections;
  tools::CellResult cell;
};

// The event model's meaningful pool sizes: every size up to the CPU count
// on a small machine, powers of two (and the count itself) on a large one.
std::string EventPoolSizes(int cpus) {
  std::vector<int> sizes;
  for (int w = 1; w <= cpus; w = cpus <= 8 ? w + 1 : w * 2) sizes.push_back(w);
  if (sizes.back() != cpus) sizes.push_back(cpus);
  return absl::StrJoin(sizes, ",");
}

std::string DefaultOutDir() {
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  return workspace != nullptr ? absl::StrCat(workspace, "/out/tune") : "/tmp/echo-tune";
}

// What a result file needs to be read later: how it was measured.
std::string Conditions(const std::string& workers, int cpus) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  return absl::StrFormat(
      "model %s, %d ms per cell, %d-byte lines, closed-loop ping-pong on loopback; %s; "
      "%d CPU(s) usable; --workers=%s --connections=%s%s",
      FLAGS_model, FLAGS_duration_ms, FLAGS_payload_bytes, date, cpus, workers,
      FLAGS_connections,
      FLAGS_server_flags.empty() ? "" : absl::StrCat(" --server_flags='", FLAGS_server_flags, "'"));
}

// Renders throughput and p99 against pool size (one line per connection
// count) with gnuplot, as tune.svg and tune.png. Returns false without it.
bool Chart(const std::string& dir, const std::vector<Row>& rows,
           const std::vector<int>& connections) {
  for (int c : connections) {
    std::ofstream dat(absl::StrCat(dir, "/tune_c", c, ".dat"));
    for (const Row& row : rows) {
      if (row.connections != c) continue;
      dat << row.workers << " " << row.cell.load.round_trips_per_second() << " "
          << row.cell.load.latency.Percentile(0.99) / 1000.0 << "\n";
    }
  }
  auto plot = [&](int column) {
    std::vector<std::string> lines;
    for (int c : connections) {
      lines.push_back(absl::StrCat("'", dir, "/tune_c", c, ".dat' using 1:", column,
                                   " with linespoints lw 2 title '", c,
                                   c == 1 ? " connection'" : " connections'"));
    }
    return absl::StrJoin(lines, ", ");
  };
  std::ofstream gp(absl::StrCat(dir, "/tune.gp"));
  for (const std::string& term : {std::string("svg size 1000,420 dynamic font 'sans,11'"),
                                  std::string("pngcairo size 1000,420 font 'sans,10'")}) {
    gp << "set encoding utf8\nset terminal " << term << "\n"
       << "set output '" << dir << "/tune." << (term.rfind("svg", 0) == 0 ? "svg" : "png")
       << "'\n"
       << "set multiplot layout 1,2 title 'pool size vs load (" << FLAGS_model << " model, "
       << FLAGS_payload_bytes << "-byte lines, loopback)'\n"
       << "unset logscale\nset logscale x 2\nset grid\nset key left top\n"
       << "set xlabel 'workers'\nset ylabel 'round trips/s'\nset format y '%.0s%c'\n"
       // Throughput from 0: a cropped axis makes a 3% difference look like 3x.
       << "set yrange [0:*]\n"
       << "plot " << plot(2) << "\n"
       << "set yrange [*:*]\n"
       << "set ylabel 'p99 latency (µs)'\nset logscale y 10\nset format y '%g'\n"
       << "plot " << plot(3) << "\nunset multiplot\n";
  }
  gp.close();
  const std::string cmd = absl::StrCat("gnuplot '", dir, "/tune.gp' 2>/dev/null");
  return std::system(cmd.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  common::InitProcess("Pool-size tuning: bazel run //tools:tune -- --workers=1,4,16 ...", &argc,
                      &argv);
  if (FLAGS_model != "event" && FLAGS_model != "classic") {
    std::fprintf(stderr, "error: --model must be 'event' or 'classic'\n");
    return common::kExitUsage;
  }
  const int cpus = std::max<int>(1, static_cast<int>(tools::AllowedCpus().size()));
  const std::string workers_flag =
      !FLAGS_workers.empty()     ? FLAGS_workers
      : FLAGS_model == "classic" ? std::string("1,2,4,8,16,64,256")
                                 : EventPoolSizes(cpus);
  auto workers = tools::ParseIntList("workers", workers_flag);
  auto connections = tools::ParseIntList("connections", FLAGS_connections);
  if (!workers.ok() || !connections.ok() || FLAGS_duration_ms <= 0) {
    std::fprintf(stderr, "error: %s\n",
                 !workers.ok() ? std::string(workers.status().message()).c_str()
                 : !connections.ok() ? std::string(connections.status().message()).c_str()
                                     : "--duration_ms must be positive");
    return common::kExitUsage;
  }
  const std::string dir =
      FLAGS_out_dir.empty() ? DefaultOutDir() : tools::OutputPath(FLAGS_out_dir);
  if (FLAGS_model == "event") {
    for (int w : *workers) {
      if (w <= cpus) continue;
      std::fprintf(stderr,
                   "note: --workers=%d is more than the %d CPU(s) here: the event model's "
                   "workers past that share the same CPUs\n",
                   w, cpus);
    }
  }
  const std::string conditions = Conditions(absl::StrJoin(*workers, ","), cpus);
  std::fprintf(stderr, "tune: %s\n", conditions.c_str());
  if (std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()) != 0) {
    std::fprintf(stderr, "error: cannot create %s\n", dir.c_str());
    return 1;
  }

  std::vector<Row> rows;
  for (int w : *workers) {
    for (int c : *connections) {
      tools::ServerSpec spec;
      spec.name = absl::StrCat("server --workers=", w);
      spec.argv = {tools::ServerBinary(), "--port=0", "--port_file={port_file}",
                   absl::StrCat("--workers=", w),
                   absl::StrCat("--queue_capacity=", std::max(c, 1)),
                   absl::StrCat("--model=", FLAGS_model),
                   "--stats_interval_ms=0", "--minloglevel=1"};
      for (absl::string_view f : absl::StrSplit(FLAGS_server_flags, ' ', absl::SkipEmpty())) {
        spec.argv.emplace_back(f);
      }
      client::LoadOptions load;
      load.connections = c;
      load.duration = absl::Milliseconds(FLAGS_duration_ms);
      load.payload_bytes = FLAGS_payload_bytes;
      auto cell = tools::RunCell(spec, load);
      if (!cell.ok()) {
        std::fprintf(stderr, "error: %s\n", std::string(cell.status().message()).c_str());
        return 1;
      }
      const client::LoadReport& r = cell->load;
      std::fprintf(stderr, "workers=%-5d connections=%-5d %9.0f rt/s  p99 %8.1f us  served %lld\n",
                   w, c, r.round_trips_per_second(), r.latency.Percentile(0.99) / 1000.0,
                   static_cast<long long>(r.connections_served));
      if (r.mismatches > 0) {
        std::fprintf(stderr, "error: %lld mismatched replies\n",
                     static_cast<long long>(r.mismatches));
        return 1;
      }
      rows.push_back({w, c, *std::move(cell)});
    }
  }

  std::ofstream csv(absl::StrCat(dir, "/tune.csv"));
  csv << "# " << conditions << "\nworkers,connections,round_trips_per_s,p50_us,p99_us\n";
  std::ostringstream md;
  md << "Measured with " << conditions << ".\n\n"
     << "| workers | connections | served | round trips/s | p50 us | p99 us | p99.9 us | max us "
        "| busy | timeouts | server peak RSS | server threads |\n"
     << "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const Row& row : rows) {
    const client::LoadReport& r = row.cell.load;
    auto us = [&](double q) { return r.latency.Percentile(q) / 1000.0; };
    csv << absl::StrFormat("%d,%d,%.0f,%.1f,%.1f\n", row.workers, row.connections,
                           r.round_trips_per_second(), us(0.5), us(0.99));
    md << absl::StrFormat("| %d | %d | %d | %.0f | %.1f | %.1f | %.1f | %.1f | %d | %d | %s | %d |\n",
                          row.workers, row.connections, r.connections_served,
                          r.round_trips_per_second(), us(0.5), us(0.99), us(0.999),
                          r.latency.max() / 1000.0, r.busy, r.timeouts,
                          tools::FormatMiB(row.cell.peak_rss_bytes), row.cell.max_threads);
  }
  csv.close();
  md << "\nRecommendation (smallest pool within 5% of the best throughput, among pools that "
        "served every connection):\n\n";
  std::string advice;
  for (int c : *connections) {
    auto eligible = [c](const Row& row) {
      return row.connections == c && row.cell.load.connections_served >= c;
    };
    double best = 0;
    for (const Row& row : rows) {
      if (eligible(row)) best = std::max(best, row.cell.load.round_trips_per_second());
    }
    if (best == 0) {
      advice += absl::StrFormat("- %d connection%s: no pool tried served them all; try larger "
                                "--workers or --model=event\n", c, c == 1 ? "" : "s");
      continue;
    }
    for (const Row& row : rows) {
      if (eligible(row) && row.cell.load.round_trips_per_second() >= 0.95 * best) {
        advice += absl::StrFormat(
            "- %d connection%s: --workers=%d (%.0f round trips/s, best %.0f)\n", c,
            c == 1 ? "" : "s", row.workers, row.cell.load.round_trips_per_second(), best);
        break;
      }
    }
  }
  md << advice;
  std::ofstream(absl::StrCat(dir, "/tune.md")) << md.str();
  const bool charted = Chart(dir, rows, *connections);
  std::printf("%s\nResults in %s: tune.md, tune.csv%s\n", md.str().c_str(), dir.c_str(),
              charted ? ", tune.svg, tune.png" : " (no chart: gnuplot missing)");
  return 0;
}
