#ifndef SERVER_SESSION_TRANSPORT_H_
#define SERVER_SESSION_TRANSPORT_H_

// Transport: the byte stream a Session talks over, the seam between the
// session's state machine and how bytes move. SocketTransport is a TCP (or
// Unix) socket driven by readiness; an encrypting layer or a completion-based
// backend implements the same calls, and a test can use bytes in memory.
//
// All calls are non-blocking: a transport that cannot move bytes now says
// kWouldBlock, and its driver calls the session again once it can.
//
// Thread safety: none; a transport belongs to its session.

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace server {

struct IoResult {
  enum class Status {
    kOk,          // `bytes` (> 0) moved
    kWouldBlock,  // nothing to read / no room to write now
    kEof,         // reads: the peer finished sending
    kError,       // `error` (an errno value): the stream is broken
  };
  Status status = Status::kWouldBlock;
  size_t bytes = 0;
  int error = 0;
  // Reads with kOk: the transport knows nothing more is buffered for reading
  // now, so the session may wait for readiness without asking again (saving
  // the read that would say kWouldBlock). Anything arriving later raises new
  // readiness. False when unsure.
  bool drained = false;

  bool ok() const { return status == Status::kOk; }
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Moves up to `size` bytes of input into `buf`.
  virtual IoResult Read(char* buf, size_t size) = 0;
  // Copies up to `size` bytes of input into `buf` without consuming them (a
  // later Read returns them again). For the PROXY header, which must not eat
  // the client's first bytes.
  virtual IoResult Peek(char* buf, size_t size) = 0;
  // Takes up to `size` bytes of `data` for the peer.
  virtual IoResult Write(const char* data, size_t size) = 0;

  // The driver's readiness report said the peer hung up or failed (a FIN or
  // reset may be queued behind the data), or that urgent data is pending:
  // either way a short read no longer proves the input drained.
  virtual void NoteShortReadsUnproven() = 0;

  // A layered transport (TLS) may need the other direction to make progress:
  // a handshake reads before the first write can go through, and may write
  // its own messages before a read can. Given the direction the session waits
  // for, returns the one the driver must wait for (true: writable). A plain
  // socket returns its argument.
  virtual bool WaitsToWrite(bool session_waits_to_write) const { return session_waits_to_write; }
  // When the transport must be called again though nothing became ready (a
  // handshake's deadline; past it, its calls fail). InfiniteFuture: none.
  virtual absl::Time deadline() const { return absl::InfiniteFuture(); }

  // Bytes Write() took that are not on their way to the peer yet: a
  // completion-based transport takes bytes before the kernel has sent them.
  // The session waits for them before it ends. A socket hands bytes to the
  // kernel inside Write(): 0.
  virtual size_t unsent() const { return 0; }
  // Whether the transport runs its own socket operations on its driver's
  // io_uring (server/session/uring_transport.h): then the driver does not
  // watch its descriptor (completions report its progress), and the session
  // cannot move to another driver.
  virtual bool completion_based() const { return false; }
  // Heap memory the transport holds besides itself.
  virtual size_t heap_bytes() const { return 0; }

  // For registering with the driver's poller; -1 if there is no descriptor.
  virtual int fd() const = 0;
  // The descriptor, for the lingering close once the session is over.
  virtual common::UniqueFd ReleaseSocket() = 0;
};

}  // namespace server

#endif  // SERVER_SESSION_TRANSPORT_H_
