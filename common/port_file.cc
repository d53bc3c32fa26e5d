#include "common/port_file.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/socket.h"

namespace common {

absl::Status WritePortFile(const std::string& path, int port, ino_t* inode) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return ErrnoStatus(errno, absl::StrCat("--port_file ", path));
  const bool ok = std::fprintf(f, "%d\n", port) > 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    return ErrnoStatus(err, absl::StrCat("--port_file ", path));
  }
  struct stat st;
  if (inode != nullptr) *inode = ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  return absl::OkStatus();
}

void RemovePortFile(const std::string& path, ino_t inode) {
  struct stat st;
  if (inode != 0 && ::stat(path.c_str(), &st) == 0 && st.st_ino == inode) {
    std::remove(path.c_str());
  }
}

absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Time deadline,
                                    absl::FunctionRef<bool()> keep_waiting) {
  for (;;) {
    std::ifstream in(path);
    std::string text;
    int port = 0;
    if (in && std::getline(in, text) && absl::SimpleAtoi(text, &port) && port > 0) return port;
    if (!keep_waiting()) return absl::UnavailableError(absl::StrCat("no port in ", path));
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no port in ", path));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace common
