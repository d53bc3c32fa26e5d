#include "server/session/uring_transport.h"

#include <errno.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "glog/logging.h"

namespace server {
namespace {

// A string's heap block, if it has one (short strings live inside it).
size_t HeapOf(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() : 0;
}

}  // namespace

// The state the kernel's requests point to. Owned by the transport while it
// lives; once the transport is gone (orphaned), by its requests: the last
// completion frees it.
class UringTransport::Stream {
 public:
  Stream(common::UringPoller* poller, int fd, uint64_t token, size_t max_unsent)
      : poller_(poller),
        fd_(fd),
        token_(token),
        max_unsent_(max_unsent),
        receive_(this),
        send_(this) {}

  // Unread input, as Read() and Peek() see it.
  size_t available() const { return input_.size() - input_pos_; }
  size_t unsent() const { return (sending_.size() - sent_) + queued_.size(); }
  size_t heap_bytes() const {
    return sizeof(*this) + HeapOf(input_) + HeapOf(sending_) + HeapOf(queued_);
  }

  // Queues a multishot receive unless one is in the kernel, input is still
  // unread, or the stream has ended or been released.
  void StartReceive() {
    if (receiving_ || available() > 0 || eof_ || read_error_ != 0 || released_) return;
    absl::Status queued = poller_->Receive(fd_, &receive_);
    if (!queued.ok()) {
      LOG_EVERY_N(WARNING, 1000) << "cannot queue an io_uring receive: " << queued.message();
      read_error_ = EIO;
      return;
    }
    receiving_ = true;
  }

  size_t Take(char* buf, size_t size, bool consume) {
    const size_t n = std::min(size, available());
    std::memcpy(buf, input_.data() + input_pos_, n);
    if (!consume) return n;
    input_pos_ += n;
    if (available() == 0) {
      std::string().swap(input_);  // an idle session holds no buffer
      input_pos_ = 0;
    }
    return n;
  }

  // Takes up to the room left under max_unsent_; 0 if none.
  size_t Queue(const char* data, size_t size) {
    const size_t n = std::min(size, max_unsent_ - std::min(max_unsent_, unsent()));
    queued_.append(data, n);
    StartSend();
    return n;
  }

  // The transport is going away: cancel what is in the kernel; the stream
  // frees itself when that has ended (now, if nothing is).
  void Orphan() {
    orphaned_ = true;
    CancelReceive();
    if (sending_request_) poller_->Cancel(&send_);
    // The kernel takes its reference to the socket when a request is
    // submitted, by number: hand it any still queued before the descriptor
    // is closed (and its number reused by the next accept).
    poller_->SubmitQueued();
    FreeIfDone();
  }

  // A graceful close takes the socket on: no more input is wanted.
  void StopReceiving() {
    released_ = true;
    CancelReceive();
    poller_->SubmitQueued();
  }

  int read_error() const { return read_error_; }
  int write_error() const { return write_error_; }
  bool eof() const { return eof_; }

 private:
  class ReceiveRequest final : public common::UringPoller::Request {
   public:
    explicit ReceiveRequest(Stream* stream) : stream_(stream) {}
    uint32_t Complete(int res, absl::string_view received, bool more, uint64_t* token) override {
      return stream_->OnReceived(res, received, more, token);
    }
    void Abandon() override { stream_->OnAbandoned(/*receive=*/true); }

   private:
    Stream* const stream_;
  };

  class SendRequest final : public common::UringPoller::Request {
   public:
    explicit SendRequest(Stream* stream) : stream_(stream) {}
    uint32_t Complete(int res, absl::string_view, bool, uint64_t* token) override {
      return stream_->OnSent(res, token);
    }
    void Abandon() override { stream_->OnAbandoned(/*receive=*/false); }

   private:
    Stream* const stream_;
  };

  void StartSend() {
    if (sending_request_ || orphaned_ || write_error_ != 0) return;
    if (sent_ == sending_.size()) {
      sending_.swap(queued_);
      std::string().swap(queued_);
      sent_ = 0;
    }
    if (sending_.empty()) {
      std::string().swap(sending_);
      return;
    }
    absl::Status queued = poller_->Send(fd_, sending_.data() + sent_, sending_.size() - sent_,
                                        &send_);
    if (!queued.ok()) {
      LOG_EVERY_N(WARNING, 1000) << "cannot queue an io_uring send: " << queued.message();
      FailWrites(EIO);
      return;
    }
    sending_request_ = true;
  }

  void FailWrites(int error) {
    write_error_ = error;
    std::string().swap(sending_);
    std::string().swap(queued_);
    sent_ = 0;
  }

  // Asks the kernel to end the multishot receive, once.
  void CancelReceive() {
    if (!receiving_ || cancelling_receive_) return;
    poller_->Cancel(&receive_);
    cancelling_receive_ = true;
  }

  uint32_t OnReceived(int res, absl::string_view received, bool more, uint64_t* token) {
    if (!more) {
      receiving_ = false;
      cancelling_receive_ = false;
    }
    if (orphaned_) {
      FreeIfDone();
      return 0;
    }
    *token = token_;
    if (res > 0) {
      // Input already unread has been (or will be) reported: one report per
      // session and turn, however many arrivals a turn brings.
      const bool was_empty = available() == 0;
      input_.append(received.data(), received.size());
      return was_empty ? common::kReadable : 0;
    }
    if (res == 0) {
      eof_ = true;
      return common::kReadable | common::kHangup;
    }
    // Out of provided buffers for the moment (they are back by the next
    // turn), or interrupted: the session's next read receives again.
    if (res == -ENOBUFS || res == -EINTR || res == -EAGAIN) return common::kReadable;
    if (res == -ECANCELED) return 0;  // ReleaseSocket(): nothing more is wanted
    read_error_ = -res;
    return common::kReadable | common::kHangup;
  }

  uint32_t OnSent(int res, uint64_t* token) {
    sending_request_ = false;
    if (orphaned_) {
      FreeIfDone();
      return 0;
    }
    *token = token_;
    if (res >= 0 || res == -EINTR || res == -EAGAIN) {
      sent_ += static_cast<size_t>(std::max(res, 0));
      StartSend();  // the rest of this buffer, or what was queued meanwhile
      return common::kWritable;
    }
    FailWrites(-res);
    return common::kWritable | common::kHangup;
  }

  void OnAbandoned(bool receive) {
    (receive ? receiving_ : sending_request_) = false;
    FreeIfDone();
  }

  void FreeIfDone() {
    if (orphaned_ && !receiving_ && !sending_request_) delete this;
  }

  common::UringPoller* const poller_;
  const int fd_;  // owned by the transport, then by whoever took it
  const uint64_t token_;
  const size_t max_unsent_;
  ReceiveRequest receive_;
  SendRequest send_;
  bool receiving_ = false;        // receive_ is in the kernel
  bool cancelling_receive_ = false;  // and asked to end
  bool released_ = false;         // the socket is someone else's: no more input
  bool sending_request_ = false;  // send_ is in the kernel
  bool orphaned_ = false;
  std::string input_;
  size_t input_pos_ = 0;
  bool eof_ = false;
  int read_error_ = 0;
  std::string sending_;  // what send_ is sending; [0, sent_) is done
  size_t sent_ = 0;
  std::string queued_;   // taken while send_ was busy
  int write_error_ = 0;
};

UringTransport::UringTransport(common::UringPoller* poller, common::UniqueFd socket,
                               uint64_t token, size_t max_unsent)
    : socket_(std::move(socket)),
      stream_(new Stream(poller, socket_.get(), token, max_unsent)) {}

UringTransport::~UringTransport() { stream_->Orphan(); }

IoResult UringTransport::Take(char* buf, size_t size, bool consume) {
  if (stream_->available() > 0) {
    const size_t n = stream_->Take(buf, size, consume);
    const bool drained = consume && stream_->available() == 0;
    if (drained) stream_->StartReceive();
    return {IoResult::Status::kOk, n, 0, drained};
  }
  if (stream_->read_error() != 0) return {IoResult::Status::kError, 0, stream_->read_error()};
  if (stream_->eof()) return {IoResult::Status::kEof};
  stream_->StartReceive();
  return {IoResult::Status::kWouldBlock};
}

IoResult UringTransport::Read(char* buf, size_t size) { return Take(buf, size, true); }

IoResult UringTransport::Peek(char* buf, size_t size) { return Take(buf, size, false); }

IoResult UringTransport::Write(const char* data, size_t size) {
  if (stream_->write_error() != 0) return {IoResult::Status::kError, 0, stream_->write_error()};
  const size_t n = stream_->Queue(data, size);
  if (n == 0) return {IoResult::Status::kWouldBlock};
  return {IoResult::Status::kOk, n};
}

size_t UringTransport::unsent() const { return stream_->unsent(); }

size_t UringTransport::heap_bytes() const { return stream_->heap_bytes(); }

common::UniqueFd UringTransport::ReleaseSocket() {
  stream_->StopReceiving();
  return std::move(socket_);
}

}  // namespace server
