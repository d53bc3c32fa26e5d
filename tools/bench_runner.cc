#include "tools/bench_runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/port_file.h"
#include "common/subprocess.h"

namespace tools {

std::string ServerBinary() { return common::Runfile("server/server"); }

std::string OutputPath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  return cwd != nullptr ? absl::StrCat(cwd, "/", path) : path;
}

std::string FormatMiB(int64_t bytes) {
  if (bytes < 0) return "?";
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1 << 20));
}

absl::StatusOr<std::vector<int>> ParseIntList(const std::string& flag, const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int value = 0;
    if (!absl::SimpleAtoi(part, &value) || value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " must be a comma-separated list of positive integers"));
    }
    out.push_back(value);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, " is empty"));
  return out;
}

void RunningServer::Stop() {
  if (process == nullptr) return;
  process->Signal(SIGTERM);
  if (!process->Wait(absl::Seconds(15)).has_value()) process->Signal(SIGKILL);
  process.reset();
  std::remove(port_file.c_str());
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const ServerSpec& server) {
  static std::atomic<int> count{0};
  auto running = std::make_unique<RunningServer>();
  running->port_file =
      common::TempPath(absl::StrCat("bench_", ::getpid(), "_", count.fetch_add(1), ".port"));
  std::remove(running->port_file.c_str());
  std::vector<std::string> args;
  for (size_t i = 1; i < server.argv.size(); ++i) {
    args.push_back(absl::StrReplaceAll(server.argv[i], {{"{port_file}", running->port_file}}));
  }
  running->process = std::make_unique<common::Subprocess>(server.argv[0], args);
  common::Subprocess* process = running->process.get();
  auto port = common::WaitForPortFile(running->port_file, absl::Now() + absl::Seconds(20),
                                      [process] { return process->Running(); });
  if (!port.ok()) {
    return absl::UnavailableError(
        absl::StrCat(server.name, " did not start: ", process->Stderr()));
  }
  running->port = *port;
  return running;
}

absl::StatusOr<CellResult> RunCell(const ServerSpec& server, client::LoadOptions load) {
  auto running = StartServer(server);
  if (!running.ok()) return running.status();
  common::Subprocess& process = *(*running)->process;
  load.host = "127.0.0.1";
  load.port = (*running)->port;

  CellResult result;
  absl::Notification done;
  std::thread sampler([&] {
    do {
      result.max_threads = std::max(result.max_threads, process.Threads());
      result.peak_rss_bytes = std::max(result.peak_rss_bytes, process.PeakRssBytes());
    } while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  });
  result.load = client::RunLoad(load);
  done.Notify();
  sampler.join();
  result.peak_rss_bytes = std::max(result.peak_rss_bytes, process.PeakRssBytes());
  result.server_cpu_seconds = absl::ToDoubleSeconds(process.CpuTime());
  return result;
}

}  // namespace tools
