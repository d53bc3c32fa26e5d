#include "common/subprocess.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "tools/cpp/runfiles/runfiles.h"

namespace common {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::atomic<int> counter{0};

// The name WORKSPACE gives this repository: runfiles paths start with it.
constexpr char kWorkspaceName[] = "threadpool_echo";

}  // namespace

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir != nullptr && workspace != nullptr) {
    return absl::StrCat(srcdir, "/", workspace, "/", path);
  }
  // Outside `bazel test`: Bazel's runfiles library finds the tree next to
  // the binary (`<binary>.runfiles`, or its manifest), so a tool started as
  // bazel-bin/tools/compare from any directory finds what `bazel run` would
  // have put in its working directory. /proc/self/exe rather than argv[0]:
  // no caller has to pass it, and it is absolute whatever the working
  // directory.
  static const bazel::tools::cpp::runfiles::Runfiles* const runfiles = [] {
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    std::string error;
    return bazel::tools::cpp::runfiles::Runfiles::Create(
        n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string(), &error);
  }();
  if (runfiles != nullptr) {
    const std::string found = runfiles->Rlocation(absl::StrCat(kWorkspaceName, "/", path));
    if (!found.empty() && ::access(found.c_str(), F_OK) == 0) return found;
  }
  // No runfiles (a binary copied elsewhere): the workspace's own paths, for
  // a tool started in the workspace root: sources as they are, built
  // binaries under bazel-bin/.
  if (::access(path.c_str(), F_OK) == 0) return path;
  const std::string built = absl::StrCat("bazel-bin/", path);
  if (::access(built.c_str(), F_OK) == 0) return built;
  return path;
}

Subprocess::Subprocess(std::string binary, std::vector<std::string> args,
                       const SubprocessOptions& options) {
  const int id = counter.fetch_add(1);
  stdout_path_ = TempPath(absl::StrCat("proc", ::getpid(), "_", id, ".out"));
  stderr_path_ = TempPath(absl::StrCat("proc", ::getpid(), "_", id, ".err"));
  std::string stdin_path = "/dev/null";
  if (options.stdin_data.has_value()) {
    stdin_path = TempPath(absl::StrCat("proc", ::getpid(), "_", id, ".in"));
    std::ofstream(stdin_path, std::ios::binary) << *options.stdin_data;
  }
  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed in a threaded process.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary);
  for (auto& a : args) argv_storage.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  CHECK_LT(options.cpu, CPU_SETSIZE) << "cpu";
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (options.cpu >= 0) CPU_SET(options.cpu, &cpus);
  const int in = ::open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PCHECK(in >= 0 && out >= 0 && err >= 0);
  pid_ = ::fork();
  PCHECK(pid_ >= 0) << "fork";
  if (pid_ == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (options.as_nobody && ::geteuid() == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(126);
    }
    for (const auto& [resource, value] : options.rlimits) {
      rlimit rl{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
      ::setrlimit(resource, &rl);
    }
    if (options.cpu >= 0 && ::sched_setaffinity(0, sizeof(cpus), &cpus) != 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in);
  ::close(out);
  ::close(err);
}

Subprocess::~Subprocess() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
}

void Subprocess::Signal(int sig) {
  if (!exit_code_.has_value()) ::kill(pid_, sig);
}

bool Subprocess::Running() { return !Wait(absl::ZeroDuration()).has_value(); }

std::optional<int> Subprocess::Wait(absl::Duration timeout) {
  if (exit_code_.has_value()) return exit_code_;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    PeakRssBytes();  // remember the peak while /proc still has it
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string Subprocess::Stdout() const { return ReadFile(stdout_path_); }
std::string Subprocess::Stderr() const { return ReadFile(stderr_path_); }

absl::Duration Subprocess::CpuTime() const {
  // Fields 14 and 15 of /proc/PID/stat: utime and stime in clock ticks.
  std::string stat = ReadFile(absl::StrCat("/proc/", pid_, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return absl::ZeroDuration();
  std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ');
  if (fields.size() < 13) return absl::ZeroDuration();
  const long ticks = std::stol(fields[11]) + std::stol(fields[12]);
  return absl::Seconds(static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK)));
}

int64_t Subprocess::StatusField(const std::string& key) const {
  std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    long long value = -1;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &value)) return value;
  }
  return -1;
}

int64_t Subprocess::PeakRssBytes() const {
  peak_rss_kib_ = std::max(peak_rss_kib_, StatusField("VmHWM:"));
  return peak_rss_kib_ < 0 ? -1 : peak_rss_kib_ * 1024;
}

int64_t Subprocess::VoluntarySwitches(const std::string& thread_prefix) const {
  const std::string tasks = absl::StrCat("/proc/", pid_, "/task");
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return -1;
  int64_t sum = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string task = absl::StrCat(tasks, "/", entry->d_name);
    if (!absl::StartsWith(ReadFile(task + "/comm"), thread_prefix)) continue;
    const std::string status = ReadFile(task + "/status");
    const std::string key = "\nvoluntary_ctxt_switches:";
    const size_t at = status.find(key);
    if (at == std::string::npos) continue;
    sum += std::strtoll(status.c_str() + at + key.size(), nullptr, 10);
  }
  ::closedir(dir);
  return sum;
}

int64_t Subprocess::MainThreadVoluntarySwitches() const {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid_, "/task/", pid_, "/status"));
  const std::string key = "\nvoluntary_ctxt_switches:";
  const size_t at = status.find(key);
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + key.size(), nullptr, 10);
}

int64_t Subprocess::OpenFds() const {
  DIR* dir = ::opendir(absl::StrCat("/proc/", pid_, "/fd").c_str());
  if (dir == nullptr) return -1;
  int64_t n = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n;
}

}  // namespace common
