#include "tools/bench_runner.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/open_loop.h"
#include "common/port_file.h"
#include "common/socket.h"
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

namespace {

// A port nothing listens on right now (127.0.0.1 and 0.0.0.0 alike: the
// kernel's pick for a wildcard bind is free on every address).
absl::StatusOr<int> FreePort() {
  auto socket = common::Listen("0.0.0.0", 0, 1);
  if (!socket.ok()) return socket.status();
  return common::BoundPort(*socket);
}

// Waits until a connection to 127.0.0.1:port succeeds, while the server runs.
absl::Status WaitForAccept(int port, absl::Time deadline, common::Subprocess& process) {
  for (;;) {
    if (common::Connect("127.0.0.1", port, absl::Milliseconds(200)).ok()) {
      return absl::OkStatus();
    }
    if (!process.Running()) return absl::UnavailableError("exited");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("nothing accepts on port ", port));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(const ServerSpec& server) {
  static std::atomic<int> count{0};
  auto running = std::make_unique<RunningServer>();
  const bool has_port_file = std::any_of(server.argv.begin(), server.argv.end(), [](auto& arg) {
    return absl::StrContains(arg, "{port_file}");
  });
  if (has_port_file) {
    running->port_file =
        common::TempPath(absl::StrCat("bench_", ::getpid(), "_", count.fetch_add(1), ".port"));
    std::remove(running->port_file.c_str());
  } else {
    auto port = FreePort();
    if (!port.ok()) return port.status();
    running->port = *port;
  }
  std::vector<std::string> args;
  for (size_t i = 1; i < server.argv.size(); ++i) {
    args.push_back(absl::StrReplaceAll(server.argv[i], {{"{port_file}", running->port_file},
                                                        {"{port}", absl::StrCat(running->port)}}));
  }
  common::SubprocessOptions options;
  options.cpu = server.cpu;
  running->process = std::make_unique<common::Subprocess>(server.argv[0], args, options);
  common::Subprocess* process = running->process.get();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  absl::Status started;
  if (has_port_file) {
    auto port = common::WaitForPortFile(running->port_file, deadline,
                                        [process] { return process->Running(); });
    if (port.ok()) running->port = *port;
    started = port.status();
  } else {
    started = WaitForAccept(running->port, deadline, *process);
  }
  if (!started.ok()) {
    const std::optional<int> exit = process->Wait(absl::ZeroDuration());
    return absl::UnavailableError(absl::StrCat(
        server.name, " did not start (",
        exit.has_value() ? absl::StrCat("exit status ", *exit) : std::string(started.message()),
        "): ", absl::StripAsciiWhitespace(process->Stderr())));
  }
  return running;
}

absl::StatusOr<CellResult> RunCell(const ServerSpec& server, client::LoadOptions load) {
  auto running = StartServer(server);
  if (!running.ok()) return running.status();
  common::Subprocess& process = *(*running)->process;
  load.host = "127.0.0.1";
  load.port = (*running)->port;
  if (server.raw) load.raw = true;
  const absl::Duration cpu_at_start = process.CpuTime();

  CellResult result;
  absl::Notification done;
  std::thread sampler([&] {
    do {
      result.max_threads = std::max(result.max_threads, process.Threads());
      result.peak_rss_bytes = std::max(result.peak_rss_bytes, process.PeakRssBytes());
    } while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  });
  result.load = load.rate > 0 ? client::RunOpenLoop(load) : client::RunLoad(load);
  done.Notify();
  sampler.join();
  result.peak_rss_bytes = std::max(result.peak_rss_bytes, process.PeakRssBytes());
  result.server_cpu_seconds = absl::ToDoubleSeconds(process.CpuTime() - cpu_at_start);
  return result;
}

double CellResult::ServerCpuMicrosPerRoundTrip() const {
  return load.round_trips > 0 ? server_cpu_seconds * 1e6 / static_cast<double>(load.round_trips)
                              : 0;
}

std::vector<int> AllowedCpus() {
  cpu_set_t mask;
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof(mask), &mask) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &mask)) cpus.push_back(cpu);
  }
  return cpus;
}

absl::Status PinThisProcess(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) {
    return absl::InvalidArgumentError(absl::StrCat("no such CPU ", cpu));
  }
  cpu_set_t mask;
  CPU_ZERO(&mask);
  CPU_SET(cpu, &mask);
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return common::ErrnoStatus(errno, "opendir /proc/self/task");
  absl::Status status;
  while (dirent* e = ::readdir(tasks)) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(e->d_name, &tid)) continue;
    if (::sched_setaffinity(tid, sizeof(mask), &mask) != 0 && status.ok()) {
      status = common::ErrnoStatus(errno, absl::StrCat("sched_setaffinity CPU ", cpu));
    }
  }
  ::closedir(tasks);
  return status;
}

}  // namespace tools
