#include "tests/server_harness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/port_file.h"
#include "common/socket.h"
#include "server/stats.h"

namespace tests {
namespace {

std::atomic<int> next_server{0};

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> flags, SubprocessOptions options,
                             const std::string& launcher) {
  port_file_ = TempPath(absl::StrCat("server", ::getpid(), "_", next_server.fetch_add(1), ".port"));
  std::remove(port_file_.c_str());
  const bool fixed_port = std::any_of(flags.begin(), flags.end(), [](const std::string& f) {
    return absl::StartsWith(f, "--port=");
  });
  if (!fixed_port) flags.push_back("--port=0");
  flags.push_back("--port_file=" + port_file_);
  if (launcher.empty()) {
    process_ = std::make_unique<Subprocess>(Runfile("server/server"), flags, options);
  } else {
    flags.insert(flags.begin(), Runfile("server/server"));
    process_ = std::make_unique<Subprocess>(Runfile(launcher), flags, options);
  }
  auto port = common::WaitForPortFile(port_file_, absl::Now() + absl::Seconds(30),
                                      [this] { return process_->Running(); });
  port_ = port.ok() ? *port : 0;
}

std::optional<int> ServerProcess::Stop(absl::Duration timeout) {
  process_->Signal(SIGTERM);
  std::optional<int> code = process_->Wait(timeout);
  if (code != 0) {
    // Shows sanitizer reports and crashes in the test log.
    std::fprintf(stderr, "server exited with %d; its log:\n%s\n", code.value_or(-1),
                 process_->Stderr().c_str());
  }
  return code;
}

std::string ServerProcess::FinalStats() const {
  const std::string log = process_->Stderr();
  const std::string marker = "stats: final ";
  const size_t at = log.rfind(marker);
  if (at == std::string::npos) return "";
  return log.substr(at, log.find('\n', at) - at);
}

long long ServerProcess::FinalStat(const std::string& key) const {
  const auto fields = server::StatsSnapshot().Fields();
  const bool known = key.rfind("worker_", 0) == 0 || absl::EndsWith(key, "_per_s") ||
                     std::any_of(fields.begin(), fields.end(),
                                 [&](const auto& field) { return field.first == key; });
  if (!known) {
    ADD_FAILURE() << "'" << key << "' is not a counter of the stats line";
    return -1;
  }
  const std::string stats = FinalStats();
  if (stats.empty()) return -1;
  const size_t at = stats.find(" " + key + "=");
  if (at == std::string::npos) return 0;  // zero counters are left out
  long long value = -1;
  const size_t start = at + key.size() + 2;
  const size_t end = stats.find(' ', start);
  if (!absl::SimpleAtoi(stats.substr(start, end - start), &value)) return -1;
  return value;
}

std::vector<std::string> ModelFlags(const std::string& param) {
  if (param == "event_uring") return {"--model=event", "--io=io_uring"};
  if (param == "event") return {"--model=event", "--io=epoll"};
  return {"--model=" + param};
}

std::unique_ptr<ServerProcess> BothModels::Start(std::vector<std::string> flags,
                                                 SubprocessOptions options) {
  std::vector<std::string> first = ModelFlags(GetParam());
  first.push_back("--stats_interval_ms=0");
  flags.insert(flags.begin(), first.begin(), first.end());
  auto server = std::make_unique<ServerProcess>(flags, options);
  EXPECT_TRUE(server->ok()) << server->process().Stderr();
  return server;
}

int FreePort() {
  auto listener = common::Listen("127.0.0.1", 0, 1);
  if (!listener.ok()) return -1;
  auto port = common::BoundPort(*listener);
  return port.ok() ? *port : -1;
}

HttpResponse HttpGet(int port, const std::string& path) {
  HttpResponse response;
  auto socket = common::Connect("127.0.0.1", port, absl::Seconds(5));
  if (!socket.ok()) return response;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
  if (!common::SendAll(*socket, request, deadline).ok()) return response;
  std::string raw;
  char buf[4096];
  for (;;) {
    auto n = common::RecvSome(*socket, buf, sizeof(buf), deadline);
    if (!n.ok() || *n == 0) break;
    raw.append(buf, *n);
  }
  // "HTTP/1.x NNN reason\r\n...headers...\r\n\r\nbody"
  const size_t space = raw.find(' ');
  const size_t body = raw.find("\r\n\r\n");
  if (space == std::string::npos || body == std::string::npos ||
      !absl::SimpleAtoi(raw.substr(space + 1, 3), &response.status)) {
    return response;
  }
  response.body = raw.substr(body + 4);
  return response;
}

int64_t KernelQueuedBytes(int port) {
  int64_t total = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::FILE* f = std::fopen(table, "r");
    if (f == nullptr) continue;
    char line[512];
    // "  sl  local_address rem_address   st tx_queue:rx_queue ..."; the first
    // line is the header. Addresses are "HEXADDR:HEXPORT".
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() < 5 || fields[0] == "sl") continue;
      const size_t colon = fields[1].rfind(':');
      const size_t queues = fields[4].find(':');
      if (colon == std::string::npos || queues == std::string::npos) continue;
      if (std::strtol(fields[1].c_str() + colon + 1, nullptr, 16) != port) continue;
      total += std::strtoll(fields[4].substr(0, queues).c_str(), nullptr, 16);
      total += std::strtoll(fields[4].c_str() + queues + 1, nullptr, 16);
    }
    std::fclose(f);
  }
  return total;
}

bool ServesOneMore(const ServerProcess& server, const std::string& line) {
  ClientResult r = RunClient({"--port_file=" + server.port_file(), "--timeout_ms=10000",
                              "--quiet", line});
  return r.exit_code == 0 && r.out == "ok ..." + line + "\n";
}

std::unique_ptr<Subprocess> StartClient(const std::vector<std::string>& args,
                                        std::optional<std::string> stdin_data) {
  SubprocessOptions options;
  options.stdin_data = std::move(stdin_data);
  return std::make_unique<Subprocess>(Runfile("client/client"), args, options);
}

ClientResult RunClient(const std::vector<std::string>& args,
                       std::optional<std::string> stdin_data) {
  auto client = StartClient(args, std::move(stdin_data));
  ClientResult result;
  result.exit_code = client->Wait(absl::Seconds(60)).value_or(-1);
  result.out = client->Stdout();
  result.err = client->Stderr();
  return result;
}

RawClient::RawClient(int port, const std::string& host) {
  auto socket = common::Connect(host, port, absl::Seconds(10));
  if (socket.ok()) socket_ = std::move(*socket);
}

bool RawClient::Send(const std::string& bytes) {
  return common::SendAll(socket_, bytes, absl::Now() + absl::Seconds(10)).ok();
}

bool RawClient::SendFor(const std::string& bytes, absl::Duration timeout) {
  return common::SendAll(socket_, bytes, absl::Now() + timeout).ok();
}

bool RawClient::SendUrgent(char byte) {
  return ::send(socket_.get(), &byte, 1, MSG_OOB | MSG_NOSIGNAL) == 1;
}

size_t RawClient::SendNow(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(socket_.get(), bytes.data() + sent, bytes.size() - sent,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  return sent;
}

long RawClient::RecvNow(size_t max) {
  std::string buf(max, '\0');
  const ssize_t n = ::recv(socket_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
  if (n == 0) return -1;
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
  return n;
}

bool RawClient::ClosedByServer() {
  pollfd p{socket_.get(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0;
}

std::string RawClient::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  for (;;) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl + 1);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto n = common::RecvSome(socket_, buf, sizeof(buf), deadline);
    if (!n.ok() || *n == 0) return "";
    buffer_.append(buf, *n);
  }
}

std::string RawClient::ReadAll(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  for (;;) {
    auto n = common::RecvSome(socket_, buf, sizeof(buf), deadline);
    if (!n.ok() || *n == 0) break;
    buffer_.append(buf, *n);
  }
  std::string all = std::move(buffer_);
  buffer_.clear();
  return all;
}

bool RawClient::Quiet(absl::Duration wait) {
  char c;
  auto n = common::RecvSome(socket_, &c, 1, absl::Now() + wait);
  if (n.ok()) {
    if (*n == 1) buffer_.push_back(c);
    return false;
  }
  return n.status().code() == absl::StatusCode::kDeadlineExceeded;
}

void RawClient::ShutdownWrite() { ::shutdown(socket_.get(), SHUT_WR); }

void RawClient::Reset() {
  linger lg{1, 0};
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  socket_.Reset();
}

}  // namespace tests
