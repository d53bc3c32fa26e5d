#include "common/flagfile_check.h"

#include <errno.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"

namespace common {
namespace {

// Deeper than any sane set-up; stops an include cycle gflags would follow.
constexpr int kMaxDepth = 8;

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// The flag's gflags type ("bool", "int32", ...), or "" if no such flag.
std::string FlagType(const std::string& name) {
  gflags::CommandLineFlagInfo info;
  if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) return "";
  return info.type;
}

absl::Status CheckFile(const std::string& path, int depth, std::set<std::string>& open_files) {
  if (depth > kMaxDepth || open_files.count(path) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("flagfile ", path, ": includes itself (through --flagfile)"));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("flagfile ", path, ": is a directory"));
  }
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("flagfile ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("flagfile ", path, ": cannot read"));
  }
  std::vector<std::string> nested;
  absl::Status s = CheckFlagfileText(path, text.str(), &nested);
  if (!s.ok()) return s;
  open_files.insert(path);
  for (const std::string& file : nested) {
    s = CheckFile(file, depth + 1, open_files);
    if (!s.ok()) return s;
  }
  open_files.erase(path);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckFlagfileText(absl::string_view path, absl::string_view text,
                               std::vector<std::string>* nested) {
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    const absl::string_view shown = line;
    if (line.empty() || line[0] == '#') continue;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("flagfile ", path, ":", number, ": ", what, ": '", shown, "'"));
    };
    if (line[0] != '-') return error("not a flag (one --name=value per line)");
    line.remove_prefix(absl::StartsWith(line, "--") ? 2 : 1);
    const size_t eq = line.find('=');
    const std::string name(line.substr(0, eq));
    if (!ValidName(name)) {
      return error(absl::StrCat("malformed flag name '", name,
                                "' (write --name=value, no spaces around '=')"));
    }
    std::string type = FlagType(name);
    if (type.empty() && absl::StartsWith(name, "no") && eq == absl::string_view::npos &&
        FlagType(name.substr(2)) == "bool") {
      continue;  // --noNAME
    }
    if (type.empty()) return error(absl::StrCat("unknown flag '", name, "'"));
    if (eq == absl::string_view::npos && type != "bool") {
      return error(absl::StrCat("flag '", name, "' needs a value (--", name, "=...)"));
    }
    if (name == "flagfile" && eq != absl::string_view::npos) {
      for (absl::string_view file : absl::StrSplit(line.substr(eq + 1), ',', absl::SkipEmpty())) {
        nested->emplace_back(file);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFlagfiles(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    absl::string_view rest = arg;
    if (!absl::ConsumePrefix(&rest, "--") && !absl::ConsumePrefix(&rest, "-")) continue;
    std::string value;
    if (absl::ConsumePrefix(&rest, "flagfile=")) {
      value = std::string(rest);
    } else if (rest == "flagfile" && i + 1 < argc) {
      value = argv[++i];
    } else {
      continue;
    }
    for (absl::string_view file : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      files.emplace_back(file);
    }
  }
  std::set<std::string> open_files;
  for (const std::string& file : files) {
    absl::Status s = CheckFile(file, 0, open_files);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace common
