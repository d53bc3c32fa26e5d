#ifndef SERVER_SESSION_URING_TRANSPORT_H_
#define SERVER_SESSION_URING_TRANSPORT_H_

// UringTransport: a Transport whose socket operations run on an io_uring
// (common/uring_poller.h) as completions, not as system calls: the session's
// reads take bytes that a receive request already delivered, and its writes
// hand bytes to a send request. A worker's turn queues every session's
// receives and sends, and the next wait submits them all in one
// io_uring_enter, so a round trip costs a share of one system call instead
// of a recv() and a send() each.
//
// Receiving: one receive is in the kernel while the transport holds no
// unread input (it is queued by the read that drains the input). Where the
// kernel allows (6.17) it is multishot, completing once per arrival, so a
// round trip re-arms nothing; it ends once it has taken
// UringPoller::kReceiveCap bytes (16 KiB, and at most one 4 KiB buffer
// more), which bounds what a session that is not reading (its replies wait
// for the client) holds, the rest waiting in the socket as on epoll.
// The first arrival into empty input reports the token readable (one report
// per turn). Bytes are copied out of the poller's shared provided buffers at
// once, so an idle session holds no buffer.
//
// Sending: Write() takes bytes until `max_unsent` are on their way (more
// says kWouldBlock, and the session keeps the rest); the session counts
// them against its --max_output_bytes, so a client that does not read costs
// no more memory than on a socket. One send is in the kernel at a time, and
// its completion reports the token writable. Taken is not sent:
// unsent() says how much is still on its way, and the session waits for it
// before it closes, so a closing line or the last replies before a client's
// FIN are delivered, not cancelled.
//
// Ending: destroying the transport cancels what is still in the kernel and
// closes the socket; ReleaseSocket() (for a graceful close) cancels the
// receive. The state those requests point to lives on until their last
// completion arrives, so nothing in the kernel ever points at freed memory.
//
// A transport is bound to its poller's ring, and so to the worker that made
// it (completion_based(): its session is never handed to another worker).
//
// Thread safety: none; every call, like the poller's, from the loop's thread.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/unique_fd.h"
#include "common/uring_poller.h"
#include "server/session/transport.h"

namespace server {

class UringTransport final : public Transport {
 public:
  // Completions are reported to the loop under `token`. At most
  // `max_unsent` bytes are taken but not yet sent. `poller` must outlive the
  // requests (it does: a loop ends after its sessions).
  UringTransport(common::UringPoller* poller, common::UniqueFd socket, uint64_t token,
                 size_t max_unsent);
  ~UringTransport() override;
  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;

  IoResult Read(char* buf, size_t size) override;
  IoResult Peek(char* buf, size_t size) override;
  IoResult Write(const char* data, size_t size) override;
  void NoteShortReadsUnproven() override {}
  size_t unsent() const override;
  bool completion_based() const override { return true; }
  size_t heap_bytes() const override;
  int fd() const override { return socket_.get(); }
  common::UniqueFd ReleaseSocket() override;

 private:
  class Stream;  // what the requests in the kernel point to

  // Takes (or reports) what the input holds; `consume` false for Peek.
  IoResult Take(char* buf, size_t size, bool consume);

  common::UniqueFd socket_;
  Stream* stream_;  // freed by its last completion once this is gone
};

}  // namespace server

#endif  // SERVER_SESSION_URING_TRANSPORT_H_
