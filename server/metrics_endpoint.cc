#include "server/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CivetServer.h"
#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "civetweb.h"
#include "common/verbose_log.h"
#include "glog/logging.h"

namespace server {

// Answers a probe: 200 and `pass_body` while `check()` holds, else 503 and
// `fail_body`. Never cached, so a proxy or a browser always asks afresh.
class MetricsEndpoint::ProbeHandler : public CivetHandler {
 public:
  ProbeHandler(std::function<bool()> check, std::string pass_body, std::string fail_body)
      : check_(std::move(check)),
        pass_body_(std::move(pass_body)),
        fail_body_(std::move(fail_body)) {}

  using CivetHandler::handleGet;
  using CivetHandler::handleHead;

  bool handleGet(CivetServer*, mg_connection* conn) override {
    Respond(conn, /*with_body=*/true);
    return true;
  }

  bool handleHead(CivetServer*, mg_connection* conn) override {
    Respond(conn, /*with_body=*/false);
    return true;
  }

 private:
  void Respond(mg_connection* conn, bool with_body) const {
    const bool pass = check_();
    const std::string& body = pass ? pass_body_ : fail_body_;
    const std::string length = std::to_string(body.size());
    mg_response_header_start(conn, pass ? 200 : 503);
    mg_response_header_add(conn, "Content-Type", "text/plain; charset=utf-8", -1);
    mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_send(conn);
    if (with_body) mg_write(conn, body.data(), body.size());
  }

  const std::function<bool()> check_;
  const std::string pass_body_;
  const std::string fail_body_;
};

namespace {

// prometheus::Exposer owns its CivetServer privately, and civetweb reports a
// bind failure only by throwing a generic exception. While Start() constructs
// the Exposer, civetweb's callbacks run on the constructing thread (inside
// mg_start) and record here the CivetServer (to add the probe handlers to)
// and the error messages (the reason a bind failed).
struct StartCapture {
  CivetServer* server = nullptr;
  std::vector<std::string> errors;
};
thread_local StartCapture* t_capture = nullptr;

// Points t_capture at `capture` for one scope.
class CaptureScope {
 public:
  explicit CaptureScope(StartCapture* capture) { t_capture = capture; }
  ~CaptureScope() { t_capture = nullptr; }
  CaptureScope(const CaptureScope&) = delete;
  CaptureScope& operator=(const CaptureScope&) = delete;
};

// civetweb's init_context callback: the context's user data is the
// CivetServer that started it.
void CaptureServer(const mg_context* context) {
  if (t_capture != nullptr) {
    t_capture->server = static_cast<CivetServer*>(mg_get_user_data(context));
  }
}

// civetweb's log_message callback. Returns 1: handled (civetweb has no log
// file configured anyway).
int LogMessage(const mg_connection*, const char* message) {
  if (t_capture != nullptr) {
    t_capture->errors.emplace_back(message);
  } else {
    VERBOSE(1) << "metrics endpoint: civetweb: " << message;
  }
  return 1;
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<ProbeHandler> healthz,
                                 std::unique_ptr<ProbeHandler> readyz)
    : registry_(std::make_shared<prometheus::Registry>()),
      healthz_(std::move(healthz)),
      readyz_(std::move(readyz)) {}

MetricsEndpoint::~MetricsEndpoint() {
  // Stops civetweb and joins its threads before anything they use goes.
  exposer_.reset();
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(Options options) {
  CHECK(options.healthy) << "MetricsEndpoint::Options::healthy is required";
  CHECK(options.ready) << "MetricsEndpoint::Options::ready is required";
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics endpoint: port ", options.port, " is not in 0..65535"));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics endpoint: threads must be at least 1, not ", options.threads));
  }
  // civetweb's listening_ports syntax: "1.2.3.4:80" or "[::1]:80".
  in_addr ipv4;
  in6_addr ipv6;
  std::string bracketed_host;
  if (inet_pton(AF_INET, options.host.c_str(), &ipv4) == 1) {
    bracketed_host = options.host;
  } else if (inet_pton(AF_INET6, options.host.c_str(), &ipv6) == 1) {
    bracketed_host = absl::StrCat("[", options.host, "]");
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics endpoint: host '", options.host, "' is not a numeric IPv4 or IPv6 address"));
  }
  const std::string requested = absl::StrCat(bracketed_host, ":", options.port);

  auto endpoint = absl::WrapUnique(new MetricsEndpoint(
      std::make_unique<ProbeHandler>(std::move(options.healthy), "ok\n", "unhealthy\n"),
      std::make_unique<ProbeHandler>(std::move(options.ready), "ready\n", "draining\n")));

  CivetCallbacks callbacks;
  callbacks.init_context = &CaptureServer;
  callbacks.log_message = &LogMessage;
  StartCapture capture;
  {
    CaptureScope scope(&capture);
    try {
      endpoint->exposer_ = std::make_unique<prometheus::Exposer>(
          std::vector<std::string>{
              "listening_ports", requested,
              "num_threads", std::to_string(options.threads),
              // civetweb serves a connection per thread: a client that sends
              // no complete request within this long is dropped, so idle or
              // slow connections hold a thread briefly, not the probes off.
              "request_timeout_ms", "2000",
          },
          &callbacks);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("metrics endpoint: cannot listen on ", requested, ": ",
                       capture.errors.empty() ? e.what() : absl::StrJoin(capture.errors, "; ")));
    }
  }
  CHECK(capture.server != nullptr) << "civetweb started without calling init_context";
  capture.server->addHandler("/healthz", endpoint->healthz_.get());
  capture.server->addHandler("/readyz", endpoint->readyz_.get());
  endpoint->exposer_->RegisterCollectable(endpoint->registry_);

  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  CHECK_EQ(ports.size(), 1u) << "one listening_ports entry binds one port";
  endpoint->port_ = ports[0];
  endpoint->address_ = absl::StrCat(bracketed_host, ":", endpoint->port_);
  return endpoint;
}

void MetricsEndpoint::RegisterCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  CHECK(collectable != nullptr);
  absl::MutexLock lock(&mu_);
  exposer_->RegisterCollectable(collectable);
  collectables_.push_back(std::move(collectable));
}

void MetricsEndpoint::RemoveCollectable(
    const std::shared_ptr<prometheus::Collectable>& collectable) {
  absl::MutexLock lock(&mu_);
  // prometheus-cpp collects under the same lock it removes under, so this
  // waits for a scrape that is inside collectable->Collect().
  exposer_->RemoveCollectable(collectable);
  collectables_.erase(std::remove(collectables_.begin(), collectables_.end(), collectable),
                      collectables_.end());
}

}  // namespace server
