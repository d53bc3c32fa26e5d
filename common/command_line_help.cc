#include "common/command_line_help.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/build_info.h"
#include "gflags/gflags.h"

namespace common {
namespace {

constexpr size_t kWidth = 78;
constexpr absl::string_view kIndent = "      ";

// `text` wrapped at word boundaries, each line indented.
std::string Wrapped(absl::string_view text) {
  std::string out;
  std::string line(kIndent);
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line.size() > kIndent.size() && line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(&out, line, "\n");
      line = std::string(kIndent);
    }
    if (line.size() > kIndent.size()) line += ' ';
    absl::StrAppend(&line, word);
  }
  if (line.size() > kIndent.size()) absl::StrAppend(&out, line, "\n");
  return out;
}

std::string Basename(const char* path) {
  absl::string_view p = path;
  const size_t slash = p.rfind('/');
  return std::string(slash == absl::string_view::npos ? p : p.substr(slash + 1));
}

}  // namespace

std::string OwnFlagsHelp() {
  std::string out = absl::StrCat(gflags::ProgramUsage(), "\n\nFlags (--helpfull adds those of ",
                                 "gflags and glog, e.g. --v=1 for verbose logs):\n");
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);  // sorted by file, then name
  for (const gflags::CommandLineFlagInfo& f : flags) {
    if (absl::StartsWith(f.filename, "external/") || f.name == "flagfile") continue;
    const std::string value = f.type == "string" ? absl::StrCat("\"", f.default_value, "\"")
                                                 : f.default_value;
    absl::StrAppend(&out, "  --", f.name, "=", value, "  (", f.type, ")\n",
                    Wrapped(f.description));
  }
  absl::StrAppend(&out,
                  "  --flagfile=FILE\n",
                  Wrapped("Read flags from FILE, one --name=value per line, # comments."),
                  "  -h, --help / --helpfull / --version\n",
                  Wrapped("This help / every flag, gflags' and glog's too / the version and "
                          "the git commit of the build."));
  return out;
}

std::string VersionLine(const std::string& program) {
  return absl::StrCat(program, " ", kBuildVersion, " (commit ", kBuildCommit, ")");
}

void HandleHelpAndVersion(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") return;
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      std::fputs(OwnFlagsHelp().c_str(), stdout);
    } else if (arg == "--helpfull" || arg == "-helpfull") {
      gflags::ShowUsageWithFlags(argv[0]);
    } else if (arg == "--version" || arg == "-version") {
      std::printf("%s\n", VersionLine(Basename(argv[0])).c_str());
    } else {
      continue;
    }
    std::fflush(stdout);
    std::exit(0);
  }
}

}  // namespace common
