#include "client/port_source.h"

#include <errno.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace client {
namespace {

constexpr int kMaxPort = 65535;

// What the file holds, shown in an error (short, printable).
std::string Shown(absl::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) {
    out += absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (text.size() > 40) out += "...";
  return out;
}

}  // namespace

absl::Status CheckPortFlags(int port, bool port_given, const std::string& port_file) {
  if (port_given && !port_file.empty()) {
    return absl::InvalidArgumentError("--port and --port_file exclude each other; give one");
  }
  if (port_file.empty() && (port < 1 || port > kMaxPort)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port must be between 1 and ", kMaxPort, " (got ", port, ")"));
  }
  return absl::OkStatus();
}

std::string ResolvePortFilePath(const std::string& path, const char* build_working_directory) {
  if (path.empty() || path[0] == '/' || build_working_directory == nullptr ||
      build_working_directory[0] == '\0') {
    return path;
  }
  return absl::StrCat(build_working_directory, "/", path);
}

absl::StatusOr<int> ReadPortFile(const std::string& path, absl::Time deadline) {
  for (;;) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat("--port_file ", path, " is a directory, not a port file"));
      }
      std::ifstream in(path);
      if (!in) {
        return absl::FailedPreconditionError(
            absl::StrCat("--port_file ", path, ": cannot read: ", std::strerror(errno)));
      }
      std::stringstream content;
      content << in.rdbuf();
      const std::string text = content.str();
      int port = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port) || port < 1 ||
          port > kMaxPort) {
        return absl::FailedPreconditionError(
            absl::StrCat("--port_file ", path, " holds '", Shown(text),
                         "', not a port number (1-65535)"));
      }
      return port;
    }
    if (errno != ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat("--port_file ", path, ": ", std::strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "--port_file ", path, " did not appear within --timeout_ms (is the server running?)"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace client
