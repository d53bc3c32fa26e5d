#include "server/server_options.h"

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
           CheckRange("workers", workers, 1, 100000),
           CheckRange("queue_capacity", queue_capacity, 1, 1000000),
           CheckRange("idle_timeout_ms", idle_timeout_ms, 0, kOneDayMs),
           CheckRange("write_timeout_ms", write_timeout_ms, 1, kOneDayMs),
           CheckRange("max_line_bytes", max_line_bytes, 1, 64 << 20),
           CheckRange("shutdown_grace_ms", shutdown_grace_ms, 0, kOneDayMs),
           CheckRange("stats_interval_ms", stats_interval_ms, 0, kOneDayMs),
           CheckNoNewline("welcome", welcome),
           CheckNoNewline("reply_prefix", reply_prefix),
       }) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<OverloadPolicy> ParseOverloadPolicy(absl::string_view text) {
  if (text == "reject") return OverloadPolicy::kReject;
  if (text == "block") return OverloadPolicy::kBlock;
  return absl::InvalidArgumentError(
      absl::StrCat("--overload_policy must be 'reject' or 'block' (got '", text, "')"));
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
