#ifndef COMMON_UNIQUE_FD_H_
#define COMMON_UNIQUE_FD_H_

// UniqueFd: the single owner of a POSIX file descriptor.
//
// Move-only, closes on destruction. Every descriptor in this project lives in
// exactly one UniqueFd at a time; handing a connection from the acceptor to a
// worker is a move, so no raw `int` ever crosses a thread boundary and no
// descriptor can be closed twice or leaked on an early return.
//
// Thread safety: like any value type. Distinct objects may be used from
// different threads; one object must not be mutated concurrently.

namespace common {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  // The descriptor, still owned by this object (-1 if none). Use it only for
  // the duration of a system call on the owning thread.
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing.
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

  // Closes the current descriptor (if any) and takes ownership of `fd`.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace common

#endif  // COMMON_UNIQUE_FD_H_
