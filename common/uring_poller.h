#ifndef COMMON_URING_POLLER_H_
#define COMMON_URING_POLLER_H_

// UringPoller: the io_uring backend (--io=io_uring). It does two jobs over
// one ring:
//
//  * Readiness, the Poller contract (common/poller.h): watches are poll
//    requests, so everything above the Poller seam works unchanged (the
//    doorbell, the lingering closer, TLS sessions).
//  * Completions, for a transport that moves bytes itself
//    (server/session/uring_transport.h): Receive() and Send() queue the
//    socket operations, and Wait() hands each result to its Request before
//    reporting the request's token as ready. A turn's receives and sends go
//    to the kernel together with the wait, in one io_uring_enter.
//
// Receives are multishot where the kernel can cap them (one request per
// stream completes once per arrival, up to kReceiveCap bytes) and draw from a ring of provided buffers (IORING_REGISTER_PBUF_RING,
// kernel 5.19) shared by every stream of this poller: a receive takes a
// buffer only when data arrives, and the buffer goes back to the ring as soon
// as Complete() has taken the bytes, so an idle connection holds none and
// the ring's memory per poller is fixed (kReceiveBuffers x
// kReceiveBufferBytes = 2 MiB, allocated on the first Receive()). A burst of
// more arrivals in one turn than buffers ends the receives that find none
// with ENOBUFS, which the stream treats as "receive again" (the buffers are
// back by the next turn, so this cannot spin). The same bound caps what one
// turn can move out of the sockets: 2 MiB per poller.
//
// Thread safety: the ring is created disabled (IORING_SETUP_R_DISABLED) by
// whichever thread builds the loop, and enabled by BindToThread() on the
// thread that runs it, which is then its single issuer
// (IORING_SETUP_SINGLE_ISSUER): every other call from that thread only.

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/poller.h"

namespace common {

class UringPoller final : public Poller {
 public:
  // A socket operation of the caller's (not a watch). The poller hands its
  // result to Complete() inside Wait(); the object must stay alive until
  // then, or until Abandon() if the poller is destroyed first.
  class Request {
   public:
    virtual ~Request() = default;
    // `res` is the kernel's result (bytes, 0 for a receive at end of stream,
    // or -errno); `received` holds a receive's bytes (valid during the call
    // only); `more`: the request stays in the kernel and completes again (a
    // multishot receive), else this was its last completion. Returns the
    // readiness to report for `*token` (0: none). May destroy the request
    // when `more` is false.
    virtual uint32_t Complete(int res, absl::string_view received, bool more,
                              uint64_t* token) = 0;
    // The poller is going away with this request unfinished.
    virtual void Abandon() = 0;
  };

  // Provided receive buffers (see above).
  static constexpr unsigned kReceiveBuffers = 512;
  static constexpr size_t kReceiveBufferBytes = 4096;
  // Bytes after which an arming of a multishot receive ends (its last
  // completion may take up to one buffer more).
  static constexpr size_t kReceiveCap = 4 * kReceiveBufferBytes;

  UringPoller() = default;
  ~UringPoller() override;

  absl::Status Init();

  // Poller.
  absl::Status Add(int fd, uint64_t token, uint32_t interest, Trigger trigger) override;
  absl::Status Remove(int fd) override;
  int Wait(absl::Time deadline, absl::Span<Event> out) override;
  const char* name() const override { return "io_uring"; }
  void BindToThread() override;
  void SubmitPending() override;
  bool watches_survive_close() const override { return true; }

  // Registers the provided receive buffers (kernel 5.19), if not done yet:
  // call before the first Receive(), from the thread that builds the loop
  // or the loop's own. Fails with the kernel's reason.
  absl::Status SetUpReceiveBuffers();
  // Queues a receive from `fd` into provided buffers, up to
  // kReceiveBufferBytes per completion. Where the kernel caps a multishot
  // receive's bytes (6.17), it is one: it completes once per arrival and
  // stays in the kernel until it has taken kReceiveCap bytes, end of
  // stream, an error, Cancel(), or the buffers running out (ENOBUFS). On
  // older kernels it is a one-shot receive. Either way it takes less than
  // kReceiveCap + kReceiveBufferBytes.
  // Fails (the kernel's reason) if the buffer ring cannot be set up or the
  // submission queue stays full.
  absl::Status Receive(int fd, Request* request);
  // Queues one send of `data` (which must stay valid until Complete()).
  absl::Status Send(int fd, const char* data, size_t size, Request* request);
  // Hands the kernel the requests queued so far, now. The kernel looks a
  // request's descriptor up when the request is submitted, so this comes
  // before closing or handing on a descriptor that a queued request names
  // (its number could otherwise name the next accepted socket by then).
  void SubmitQueued();
  // Asks the kernel to end `request` early; its Complete() still comes
  // (-ECANCELED, or its result if it finished first).
  void Cancel(Request* request);

 private:
  struct Watch {
    int fd;
    uint64_t token;
    unsigned mask;
    bool multishot;
    bool armed = false;    // a poll request is in the kernel
    bool removed = false;  // Remove()d: drop reports, free on the last one
  };

  io_uring_sqe* GetSqe();
  bool Arm(uint64_t id, Watch& watch);
  // One completion; true if `event` is a report for the caller.
  bool Report(const io_uring_cqe& cqe, Event* event);
  bool ReportWatch(uint64_t id, const io_uring_cqe& cqe, Event* event);
  bool ReportRequest(Request* request, const io_uring_cqe& cqe, Event* event);
  void RecycleBuffer(unsigned id);
  // Reaps completions until no request is in flight or `timeout` passes.
  void DrainRequests(absl::Duration timeout);

  io_uring ring_{};
  bool set_up_ = false;
  absl::flat_hash_map<uint64_t, Watch> watches_;
  absl::flat_hash_map<int, uint64_t> id_of_fd_;  // live (not removed) watches
  uint64_t next_watch_id_ = 2;                    // even; requests are tagged odd
  absl::flat_hash_set<Request*> requests_;        // in the kernel
  io_uring_buf_ring* buffer_ring_ = nullptr;      // mmap'd, shared with the kernel
  size_t buffer_ring_bytes_ = 0;
  std::unique_ptr<char[]> buffers_;
  bool multishot_ = false;  // the kernel caps multishot receives
};

}  // namespace common

#endif  // COMMON_URING_POLLER_H_
