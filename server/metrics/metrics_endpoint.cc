#include "server/metrics/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace server {
namespace {

// A probe's answer: 200 and `pass_body` while `check()` holds, else 503 and
// `fail_body`. Never cached, so a proxy or a browser always asks afresh.
std::function<HttpResponse()> Probe(std::function<bool()> check, std::string pass_body,
                                    std::string fail_body) {
  return [check = std::move(check), pass_body = std::move(pass_body),
          fail_body = std::move(fail_body)] {
    HttpResponse response;
    const bool pass = check();
    response.status = pass ? 200 : 503;
    response.body = pass ? pass_body : fail_body;
    response.headers.push_back("Cache-Control: no-store");
    return response;
  };
}

}  // namespace

MetricsEndpoint::MetricsEndpoint() : registry_(std::make_shared<prometheus::Registry>()) {}

MetricsEndpoint::~MetricsEndpoint() {
  // Stops the HTTP server and joins its thread before anything it uses goes.
  http_.reset();
}

std::string MetricsEndpoint::Scrape() {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<prometheus::Collectable>& collectable : collectables_) {
    std::vector<prometheus::MetricFamily> more = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(Options options) {
  CHECK(options.healthy) << "MetricsEndpoint::Options::healthy is required";
  CHECK(options.ready) << "MetricsEndpoint::Options::ready is required";
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics endpoint: port ", options.port, " is not in 0..65535"));
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics endpoint: max_connections must be at least 1, not ", options.max_connections));
  }
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

  auto endpoint = absl::WrapUnique(new MetricsEndpoint());
  MetricsEndpoint* self = endpoint.get();
  HttpServer::Options http;
  http.host = options.host;
  http.port = options.port;
  http.max_connections = static_cast<size_t>(options.max_connections);
  http.header_timeout = options.header_timeout;
  http.routes["/metrics"] = [self] {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = self->Scrape();
    return response;
  };
  http.routes["/healthz"] = Probe(std::move(options.healthy), "ok\n", "unhealthy\n");
  http.routes["/readyz"] = Probe(std::move(options.ready), "ready\n", "draining\n");
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(http));
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("metrics endpoint: ", server.status().message()));
  }
  endpoint->http_ = std::move(*server);
  endpoint->port_ = endpoint->http_->port();
  endpoint->address_ = absl::StrCat(bracketed_host, ":", endpoint->port_);
  return endpoint;
}

void MetricsEndpoint::RegisterCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  CHECK(collectable != nullptr);
  absl::MutexLock lock(&mu_);
  collectables_.push_back(std::move(collectable));
}

void MetricsEndpoint::RemoveCollectable(
    const std::shared_ptr<prometheus::Collectable>& collectable) {
  // Scrapes collect under the same lock, so this waits for a scrape that is
  // inside collectable->Collect().
  absl::MutexLock lock(&mu_);
  collectables_.erase(std::remove(collectables_.begin(), collectables_.end(), collectable),
                      collectables_.end());
}

}  // namespace server
