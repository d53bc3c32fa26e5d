// UringPoller: declared in common/uring_poller.h.
//
// Why readiness over io_uring (the watches): every request a turn queues (new watches,
// removals, re-arms) and the wait itself go to the kernel in one
// io_uring_enter (io_uring_submit_and_wait_timeout, the deadline passed as
// an extended argument, so no timeout request is needed), and the sessions
// above keep the readiness contract of common/poller.h unchanged.
//
// Urgent data: a poll request's report is the wake-up's key, not a fresh
// poll of the socket, and TCP's data-ready wake-up always carries EPOLLPRI.
// So every report of new input says kUrgent, which voids the session's
// short-read proof (server/session/socket_transport.h): correct, at the cost
// of the recv() that proves the socket drained, which epoll saves.
//
// Watches: an edge-triggered watch is a multishot poll request (one report
// per wake-up of the socket, like EPOLLET); a level-triggered one is a
// one-shot poll re-armed after each report (armed again while the condition
// holds, it completes at once: reported for as long as it holds). A
// multishot request the kernel ends (no IORING_CQE_F_MORE) is re-armed; one
// that ends with an error is reported once as a hang-up and not re-armed, so
// an error never spins the loop.
//
// A poll request holds its own reference to the file: closing the
// descriptor does not end it (watches_survive_close), so every watch is
// removed before its descriptor is closed or handed on. Remove() queues an
// IORING_OP_POLL_REMOVE and forgets the descriptor at once; reports still in
// flight for the removed watch are dropped here, and its record is freed
// when the request's last completion arrives. Poll requests never consume
// data, so a socket handed to another loop or thread loses nothing.
//
// Thread safety: the ring is created disabled (IORING_SETUP_R_DISABLED) by
// whichever thread builds the loop, and enabled by BindToThread() on the
// thread that runs it, which is then its single issuer
// (IORING_SETUP_SINGLE_ISSUER): Add, Remove and Wait from that thread only.

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/uring_poller.h"
#include "common/socket.h"
#include "glog/logging.h"

namespace common {
namespace {

// Submission entries per ring: the requests one turn can queue before the
// next io_uring_enter (Add and Remove submit early when it is full). The
// completion ring is twice that; the kernel buffers completions beyond it
// (IORING_FEAT_NODROP) rather than losing them.
constexpr unsigned kRingEntries = 1024;
// Completions of removal and cancel requests carry this. Watches are
// numbered 2, 4, ...; a Request's completions carry its address + 1.
constexpr uint64_t kIgnoredCompletion = 0;
constexpr uint64_t kRequestTag = 1;
// The provided buffer group of the receive buffers.
constexpr int kBufferGroup = 0;

// TASKRUN_FLAG (5.19): the kernel flags pending task work in the shared
// ring (IORING_SQ_TASKRUN), see Wait().
constexpr unsigned kSetupFlags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                 IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED;
// Kernel worker threads (io-wq) per event loop thread, see BindToThread().
constexpr unsigned kMaxIoWorkers = 4;
// Extra passes Wait() makes to run task work still pending after its wait.
constexpr int kMaxTaskRunPasses = 16;

bool TaskWorkPending(const io_uring& ring) {
  return (IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

unsigned ToPoll(uint32_t interest) {
  unsigned mask = POLLERR | POLLHUP;
  if (interest & kReadable) mask |= POLLIN | POLLRDHUP | POLLPRI;
  if (interest & kWritable) mask |= POLLOUT;
  return mask;
}

uint32_t FromPoll(unsigned mask) {
  uint32_t readiness = 0;
  if (mask & POLLIN) readiness |= kReadable;
  if (mask & POLLOUT) readiness |= kWritable;
  if (mask & (POLLRDHUP | POLLHUP | POLLERR)) readiness |= kHangup;
  if (mask & POLLPRI) readiness |= kUrgent | kReadable;
  return readiness;
}

absl::Status SetUp(unsigned entries, io_uring* ring) {
  io_uring_params params{};
  params.flags = kSetupFlags;
  const int ret = io_uring_queue_init_params(entries, ring, &params);
  if (ret < 0) return ErrnoStatus(-ret, "io_uring_setup");
  // EXT_ARG (5.11): a wait with a timeout in the same io_uring_enter as the
  // submission. NODROP (5.5): completions are never lost.
  const unsigned needed = IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP;
  if ((params.features & needed) != needed) {
    io_uring_queue_exit(ring);
    return absl::UnavailableError("io_uring: the kernel lacks IORING_FEAT_EXT_ARG or NODROP");
  }
  return absl::OkStatus();
}

// Whether the kernel caps a multishot receive's bytes per arming
// (sqe->optlen, kernel 6.17; older kernels refuse it with EINVAL or ignore
// it). Asked once per process, on a ring and socket pair of its own: a
// receive capped at 1 byte must end (no IORING_CQE_F_MORE) after taking a
// 2-byte write; uncapped, the same receive stays armed.
bool KernelCapsMultishotReceive() {
  static const bool caps = [] {
    io_uring ring{};
    if (io_uring_queue_init(4, &ring, 0) < 0) return false;
    int sv[2];
    bool result = false;
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
      char buffer[16];
      constexpr int kProbeGroup = 1;
      io_uring_prep_provide_buffers(io_uring_get_sqe(&ring), buffer, sizeof(buffer), 1,
                                    kProbeGroup, 0);
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_recv_multishot(sqe, sv[0], nullptr, sizeof(buffer), 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = kProbeGroup;
      sqe->file_index = 1;  // optlen, see Receive()
      io_uring_sqe_set_data64(sqe, 1);
      if (::write(sv[1], "xy", 2) == 2 && io_uring_submit(&ring) == 2) {
        for (int i = 0; i < 2; ++i) {
          io_uring_cqe* cqe = nullptr;
          __kernel_timespec ts{1, 0};
          if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) < 0) break;
          if (io_uring_cqe_get_data64(cqe) == 1) {
            result = cqe->res > 0 && (cqe->flags & IORING_CQE_F_MORE) == 0;
            io_uring_cqe_seen(&ring, cqe);
            break;
          }
          io_uring_cqe_seen(&ring, cqe);
        }
      }
      ::close(sv[0]);
      ::close(sv[1]);
    }
    io_uring_queue_exit(&ring);
    return result;
  }();
  return caps;
}

}  // namespace

UringPoller::~UringPoller() {
  if (!set_up_) return;
  // Only if the loop never ran to its end (SubmitPending drains): the
  // kernel cancels these when the ring closes.
  for (Request* request : requests_) request->Abandon();
  requests_.clear();
  io_uring_queue_exit(&ring_);
  if (buffer_ring_ != nullptr) ::munmap(buffer_ring_, buffer_ring_bytes_);
}

absl::Status UringPoller::Init() {
  absl::Status status = SetUp(kRingEntries, &ring_);
  set_up_ = status.ok();
  return status;
}

absl::Status UringPoller::Add(int fd, uint64_t token, uint32_t interest, Trigger trigger) {
  if (id_of_fd_.contains(fd)) return ErrnoStatus(EEXIST, "io_uring poll add");
  const uint64_t id = next_watch_id_;
  next_watch_id_ += 2;
  Watch& watch = watches_[id];
  watch = {fd, token, ToPoll(interest), trigger == Trigger::kEdge};
  if (!Arm(id, watch)) {
    watches_.erase(id);
    return ErrnoStatus(EBUSY, "io_uring poll add (submission ring full)");
  }
  id_of_fd_[fd] = id;
  return absl::OkStatus();
}

absl::Status UringPoller::Remove(int fd) {
  auto it = id_of_fd_.find(fd);
  if (it == id_of_fd_.end()) return ErrnoStatus(ENOENT, "io_uring poll remove");
  const uint64_t id = it->second;
  id_of_fd_.erase(it);
  Watch& watch = watches_[id];
  if (!watch.armed) {
    watches_.erase(id);
    return absl::OkStatus();
  }
  watch.removed = true;
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    // Cannot happen after a successful submit; if it does, the request
    // stays until the ring is torn down and its reports are dropped.
    return ErrnoStatus(EBUSY, "io_uring poll remove (submission ring full)");
  }
  io_uring_prep_poll_remove(sqe, id);
  io_uring_sqe_set_data64(sqe, kIgnoredCompletion);
  return absl::OkStatus();
}

int UringPoller::Wait(absl::Time deadline, absl::Span<Event> out) {
  io_uring_cqe* cqe = nullptr;
  int ret;
  const absl::Duration left =
      deadline == absl::InfiniteFuture() ? absl::InfiniteDuration() : deadline - absl::Now();
  if (deadline == absl::InfinitePast() || left <= absl::ZeroDuration()) {
    ret = io_uring_submit_and_get_events(&ring_);
  } else if (left == absl::InfiniteDuration()) {
    ret = io_uring_submit_and_wait(&ring_, 1);
  } else {
    // Rounded up so a deadline is never woken for early.
    __kernel_timespec ts{};
    const int64_t ns = absl::ToInt64Nanoseconds(left) + 999;
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  }
  // Arrivals the kernel has not yet turned into completions: with
  // DEFER_TASKRUN it runs that task work only when asked, and a wait runs a
  // bounded batch of it (or none, if it ended on its deadline or a signal).
  // Ask again, without waiting, while the kernel says some is pending
  // (IORING_SQ_TASKRUN), so the loop sees every arrived input before it acts
  // on deadlines: after a stall of the process longer than the idle
  // timeout, a session whose line has arrived must be answered, not closed
  // (as epoll's ready list shows it). Bounded, so a flood cannot hold the
  // turn here.
  for (int i = 0; i < kMaxTaskRunPasses && TaskWorkPending(ring_); ++i) {
    ret = io_uring_get_events(&ring_);
  }
  if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
    LOG_EVERY_N(WARNING, 1000) << "io_uring_enter: " << strerror(-ret);
  }
  int n = 0;
  unsigned seen = 0;
  unsigned head;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    if (static_cast<size_t>(n) == out.size()) break;
    ++seen;
    if (Report(*cqe, &out[n])) ++n;
  }
  io_uring_cq_advance(&ring_, seen);
  return n;
}

void UringPoller::BindToThread() {
  // IORING_REGISTER_ENABLE_RINGS (kernel 5.10); liburing 2.3 declares
  // io_uring_enable_rings but does not export it, so the call is made
  // directly. The enabling thread becomes the single issuer.
  const long ret =
      ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  PCHECK(ret == 0) << "io_uring_register(ENABLE_RINGS) (BindToThread called twice?)";
  // A registered ring descriptor (5.18) spares each io_uring_enter the
  // descriptor lookup; without it every call still works.
  (void)io_uring_register_ring_fd(&ring_);
  // A send the kernel cannot finish at once waits in an internal poll; one
  // woken without room (a client that half-closed and stopped reading) is
  // handed to an io-wq kernel thread of this thread's, where it blocks
  // until sent or cancelled (the write timeout). Uncapped, every such client
  // would hold a kernel thread. The cap (5.15) makes the rest queue behind
  // these few until their sessions time out; sockets are never files that
  // need more.
  unsigned max_workers[2] = {kMaxIoWorkers, kMaxIoWorkers};  // bounded, unbounded
  const int capped = io_uring_register_iowq_max_workers(&ring_, max_workers);
  if (capped < 0) {
    LOG(WARNING) << "io_uring: cannot cap its kernel worker threads (" << strerror(-capped)
                 << "); a client that stops reading may hold one each";
  }
}

void UringPoller::SubmitPending() {
  // With DEFER_TASKRUN a cancelled request is finished (and lets go of its
  // socket) by task work, which runs only when events are asked for.
  io_uring_submit_and_get_events(&ring_);
  // Sessions end before their loop does, so the requests left are ones
  // already cancelled: let them finish here, on the issuer thread, so none
  // still reads a send buffer once its owner is gone.
  DrainRequests(absl::Milliseconds(200));
}

io_uring_sqe* UringPoller::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  io_uring_submit(&ring_);
  return io_uring_get_sqe(&ring_);
}

bool UringPoller::Arm(uint64_t id, Watch& watch) {
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return false;
  if (watch.multishot) {
    io_uring_prep_poll_multishot(sqe, watch.fd, watch.mask);
  } else {
    io_uring_prep_poll_add(sqe, watch.fd, watch.mask);
  }
  io_uring_sqe_set_data64(sqe, id);
  watch.armed = true;
  return true;
}

bool UringPoller::Report(const io_uring_cqe& cqe, Event* event) {
  const uint64_t data = io_uring_cqe_get_data64(&cqe);
  if (data == kIgnoredCompletion) return false;
  if ((data & kRequestTag) != 0) {
    return ReportRequest(reinterpret_cast<Request*>(data - kRequestTag), cqe, event);
  }
  return ReportWatch(data, cqe, event);
}

bool UringPoller::ReportWatch(uint64_t id, const io_uring_cqe& cqe, Event* event) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return false;
  Watch& watch = it->second;
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) watch.armed = false;
  if (watch.removed) {
    if (!more) watches_.erase(it);
    return false;
  }
  if (cqe.res < 0) {
    // Not re-armed (no spin); the owner hears a hang-up, finds the error
    // on its next read and removes the watch.
    LOG_EVERY_N(WARNING, 1000) << "io_uring poll on descriptor " << watch.fd
                               << " failed: " << strerror(-cqe.res);
    *event = {watch.token, kHangup | kReadable | kWritable};
    return true;
  }
  if (!more && !Arm(id, watch)) {
    LOG_EVERY_N(WARNING, 1000) << "io_uring: cannot re-arm a poll (submission ring full)";
  }
  *event = {watch.token, FromPoll(static_cast<unsigned>(cqe.res))};
  return true;
}

bool UringPoller::ReportRequest(Request* request, const io_uring_cqe& cqe, Event* event) {
  // A multishot receive's completions carry F_MORE until its last one.
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) requests_.erase(request);
  absl::string_view received;
  const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  const unsigned buffer = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
  if (has_buffer && cqe.res > 0) {
    received = absl::string_view(buffers_.get() + size_t{buffer} * kReceiveBufferBytes,
                                 static_cast<size_t>(cqe.res));
  }
  uint64_t token = 0;
  const uint32_t readiness = request->Complete(cqe.res, received, more, &token);
  // The bytes are the stream's now: the buffer can take the next arrival.
  if (has_buffer) RecycleBuffer(buffer);
  if (readiness == 0) return false;
  *event = {token, readiness};
  return true;
}

absl::Status UringPoller::SetUpReceiveBuffers() {
  if (buffer_ring_ != nullptr) return absl::OkStatus();
  multishot_ = KernelCapsMultishotReceive();
  // The ring of buffer descriptors must be page-aligned memory.
  buffer_ring_bytes_ = sizeof(io_uring_buf) * kReceiveBuffers;
  void* mapped = ::mmap(nullptr, buffer_ring_bytes_, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mapped == MAP_FAILED) return ErrnoStatus(errno, "mmap (io_uring buffer ring)");
  buffer_ring_ = static_cast<io_uring_buf_ring*>(mapped);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mapped);
  reg.ring_entries = kReceiveBuffers;
  reg.bgid = kBufferGroup;
  const int ret = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (ret < 0) {
    ::munmap(mapped, buffer_ring_bytes_);
    buffer_ring_ = nullptr;
    return ErrnoStatus(-ret, "io_uring_register_buf_ring");
  }
  buffers_ = std::make_unique<char[]>(kReceiveBuffers * kReceiveBufferBytes);
  io_uring_buf_ring_init(buffer_ring_);
  const int mask = io_uring_buf_ring_mask(kReceiveBuffers);
  for (unsigned i = 0; i < kReceiveBuffers; ++i) {
    io_uring_buf_ring_add(buffer_ring_, buffers_.get() + size_t{i} * kReceiveBufferBytes,
                          kReceiveBufferBytes, static_cast<unsigned short>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buffer_ring_, kReceiveBuffers);
  return absl::OkStatus();
}

void UringPoller::RecycleBuffer(unsigned id) {
  io_uring_buf_ring_add(buffer_ring_, buffers_.get() + size_t{id} * kReceiveBufferBytes,
                        kReceiveBufferBytes, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(kReceiveBuffers), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

absl::Status UringPoller::Receive(int fd, Request* request) {
  if (buffer_ring_ == nullptr) {
    absl::Status set_up = SetUpReceiveBuffers();
    if (!set_up.ok()) return set_up;
  }
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return ErrnoStatus(EBUSY, "io_uring recv (submission ring full)");
  if (multishot_) {
    io_uring_prep_recv_multishot(sqe, fd, nullptr, kReceiveBufferBytes, 0);
    // Ends once it has taken kReceiveCap bytes (sqe->optlen, kernel 6.17;
    // liburing 2.3 names that field file_index, which it shares in the
    // kernel's struct); the owner arms it again once it has read them, so
    // unread input stays bounded.
    sqe->file_index = kReceiveCap;
  } else {
    io_uring_prep_recv(sqe, fd, nullptr, kReceiveBufferBytes, 0);
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(request) + kRequestTag);
  requests_.insert(request);
  return absl::OkStatus();
}

absl::Status UringPoller::Send(int fd, const char* data, size_t size, Request* request) {
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return ErrnoStatus(EBUSY, "io_uring send (submission ring full)");
  io_uring_prep_send(sqe, fd, data, size, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(request) + kRequestTag);
  requests_.insert(request);
  return absl::OkStatus();
}

void UringPoller::SubmitQueued() {
  if (io_uring_sq_ready(&ring_) > 0) io_uring_submit(&ring_);
}

void UringPoller::Cancel(Request* request) {
  io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) return;  // it ends with its socket's last reference, or at teardown
  io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(request) + kRequestTag, 0);
  io_uring_sqe_set_data64(sqe, kIgnoredCompletion);
}

void UringPoller::DrainRequests(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  Event ignored[64];
  while (!requests_.empty()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    Wait(std::min(deadline, now + absl::Milliseconds(10)), absl::MakeSpan(ignored));
  }
}

absl::StatusOr<std::unique_ptr<Poller>> NewUringPoller() {
  auto poller = std::make_unique<UringPoller>();
  absl::Status set_up = poller->Init();
  if (!set_up.ok()) return set_up;
  return std::unique_ptr<Poller>(std::move(poller));
}

bool UringReceivesMultishot() { return KernelCapsMultishotReceive(); }

absl::Status ProbeIoUring() {
  io_uring ring{};
  absl::Status set_up = SetUp(8, &ring);
  if (set_up.ok()) io_uring_queue_exit(&ring);
  return set_up;
}

}  // namespace common
