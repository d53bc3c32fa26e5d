#include "common/unique_fd.h"

#include <unistd.h>

namespace common {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) {
    // Linux always releases the descriptor, even when close() reports EINTR,
    // so retrying could close a descriptor another thread just opened.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace common
