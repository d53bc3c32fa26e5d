#include "server/server_options.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace server {
namespace {

absl::Status CheckRange(absl::string_view flag, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be between ", min,
                                                   " and ", max, " (got ", value, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckNoNewline(absl::string_view flag, absl::string_view value) {
  if (value.find_first_of("\r\n") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must not contain line breaks"));
  }
  return absl::OkStatus();
}

constexpr int64_t kOneDayMs = 24 * 3600 * 1000;

}  // namespace

absl::Status ServerOptions::Validate() const {
  if (host.empty()) return absl::InvalidArgumentError("--host must not be empty");
  for (absl::Status s : {
           CheckRange("port", port, 0, 65535),
           CheckRange("listen_backlog", listen_backlog, 1, 65535),
           CheckRange("queue_capacity", queue_capacity, 1, 1000000),
           CheckRange("max_connections", max_connections, 0, 100000000),
           CheckRange("idle_timeout_ms", idle_timeout_ms, 0, kOneDayMs),
           CheckRange("write_timeout_ms", write_timeout_ms, 1, kOneDayMs),
           CheckRange("max_line_bytes", max_line_bytes, 1, 64 << 20),
           CheckRange("shutdown_grace_ms", shutdown_grace_ms, 0, kOneDayMs),
           CheckRange("proxy_header_timeout_ms", proxy_header_timeout_ms, 1, kOneDayMs),
           CheckRange("stats_interval_ms", stats_interval_ms, 0, kOneDayMs),
           CheckRange("drain_delay_ms", drain_delay_ms, 0, kOneDayMs),
           CheckRange("metrics_port", metrics_port, 0, 65535),
           CheckRange("max_output_bytes", max_output_bytes, 1024, int64_t{1} << 30),
           CheckRange("socket_buffer_bytes", socket_buffer_bytes, 0, int64_t{1} << 30),
           CheckRange("tls_handshake_timeout_ms", tls_handshake_timeout_ms, 1, kOneDayMs),
           CheckNoNewline("welcome", welcome),
           CheckNoNewline("reply_prefix", reply_prefix),
       }) {
    if (!s.ok()) return s;
  }
  const int max_workers = model == Model::kClassic ? kMaxClassicWorkers : kMaxEventWorkers;
  if (workers < 0 || workers > max_workers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--workers must be between 0 and ", max_workers, " with --model=", ModelName(model),
        " (got ", workers, ")",
        model == Model::kClassic
            ? "; every classic worker is a thread: for more clients at once use --model=event"
            : "; the event model runs at most one worker per usable CPU"));
  }
  // One read must always fit: the longest line's reply, with room to spare.
  const int64_t min_output =
      2 * (max_line_bytes + static_cast<int64_t>(reply_prefix.size()) + 32);
  if (max_output_bytes < min_output) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_output_bytes must be at least 2 x (--max_line_bytes + reply prefix + 32) = ",
        min_output, " (got ", max_output_bytes, ")"));
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together: set both or neither");
  }
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
  }
  return absl::OkStatus();
}

int ResolvedWorkers(const ServerOptions& options, int cpus) {
  if (options.model == Model::kClassic) return options.workers > 0 ? options.workers : 64;
  cpus = std::max(cpus, 1);
  return options.workers > 0 ? std::min(options.workers, cpus) : cpus;
}

size_t MaxLingeringSockets(long fd_limit) {
  if (fd_limit < 0) return 4096;
  return std::max<size_t>(1, static_cast<size_t>(fd_limit) / 8);
}

int64_t ResolvedMaxConnections(const ServerOptions& options, long fd_limit, int workers) {
  if (options.max_connections > 0) return options.max_connections;
  if (fd_limit < 0) return 1000000;
  // Own descriptors: stdio, listener, reserve, metrics, an epoll set and an
  // eventfd per worker, a few more. Lingering sockets may take up to an
  // eighth of the table (see Server).
  const int64_t reserved = 16 + 2 * static_cast<int64_t>(workers) +
                           static_cast<int64_t>(MaxLingeringSockets(fd_limit));
  return std::max<int64_t>(1, fd_limit - reserved);
}

absl::StatusOr<Model> ParseModel(absl::string_view text) {
  if (text == "event") return Model::kEvent;
  if (text == "classic") return Model::kClassic;
  return absl::InvalidArgumentError(
      absl::StrCat("--model must be 'event' or 'classic' (got '", text, "')"));
}

absl::string_view ModelName(Model model) {
  return model == Model::kEvent ? "event" : "classic";
}

absl::StatusOr<common::IoBackend> ParseIo(absl::string_view text) {
  if (text == "epoll") return common::IoBackend::kEpoll;
  if (text == "io_uring") return common::IoBackend::kIoUring;
  return absl::InvalidArgumentError(
      absl::StrCat("--io must be 'epoll' or 'io_uring' (got '", text, "')"));
}

absl::string_view IoName(common::IoBackend io) {
  return io == common::IoBackend::kIoUring ? "io_uring" : "epoll";
}

absl::StatusOr<OverloadPolicy> ParseOverloadPolicy(absl::string_view text) {
  if (text == "reject") return OverloadPolicy::kReject;
  if (text == "block") return OverloadPolicy::kBlock;
  return absl::InvalidArgumentError(
      absl::StrCat("--overload_policy must be 'reject' or 'block' (got '", text, "')"));
}

absl::StatusOr<std::optional<common::ProxyVersions>> ParseProxyProtocol(absl::string_view text) {
  if (text == "off") return std::optional<common::ProxyVersions>();
  if (text == "v1") return common::ProxyVersions::kV1;
  if (text == "v2") return common::ProxyVersions::kV2;
  if (text == "any") return common::ProxyVersions::kAny;
  return absl::InvalidArgumentError(
      absl::StrCat("--proxy_protocol must be 'off', 'v1', 'v2' or 'any' (got '", text, "')"));
}

absl::string_view ProxyProtocolName(std::optional<common::ProxyVersions> proxy) {
  if (!proxy.has_value()) return "off";
  switch (*proxy) {
    case common::ProxyVersions::kV1:
      return "v1";
    case common::ProxyVersions::kV2:
      return "v2";
    case common::ProxyVersions::kAny:
      return "any";
  }
  return "?";
}

absl::StatusOr<Framing> ParseFraming(absl::string_view text) {
  if (text == "line") return Framing::kLine;
  if (text == "raw") return Framing::kRaw;
  return absl::InvalidArgumentError(
      absl::StrCat("--framing must be 'line' or 'raw' (got '", text, "')"));
}

absl::string_view OverloadPolicyName(OverloadPolicy policy) {
  return policy == OverloadPolicy::kReject ? "reject" : "block";
}

absl::string_view FramingName(Framing framing) {
  return framing == Framing::kLine ? "line" : "raw";
}

}  // namespace server
