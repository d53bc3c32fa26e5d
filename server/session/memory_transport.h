#ifndef SERVER_SESSION_MEMORY_TRANSPORT_H_
#define SERVER_SESSION_MEMORY_TRANSPORT_H_

// MemoryTransport: a Transport over bytes in memory, for testing a Session
// with no socket at all: the test feeds input, ends it, limits how much the
// "peer" accepts, breaks the stream, and reads what the session wrote.
//
// Thread safety: none (one test thread).

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "server/session/transport.h"

namespace server {

class MemoryTransport final : public Transport {
 public:
  // Input the session can read (appended after what is still unread).
  void Feed(absl::string_view bytes) { input_.append(bytes.data(), bytes.size()); }
  // After the unread input, the peer's end of stream.
  void FeedEof() { eof_ = true; }
  // How many more bytes the peer accepts before writes would block
  // (SIZE_MAX: unlimited).
  void set_write_room(size_t bytes) { write_room_ = bytes; }
  // Bytes the transport reports as taken but not yet sent (as a
  // completion-based transport does while its sends are in the kernel).
  void set_unsent(size_t bytes) { unsent_ = bytes; }
  // Every call from now on fails with `error`.
  void Break(int error) { error_ = error; }

  // What the session wrote, taken (cleared).
  std::string TakeOutput();

  IoResult Read(char* buf, size_t size) override;
  IoResult Peek(char* buf, size_t size) override;
  IoResult Write(const char* data, size_t size) override;
  void NoteShortReadsUnproven() override {}
  size_t unsent() const override { return unsent_; }
  int fd() const override { return -1; }
  common::UniqueFd ReleaseSocket() override { return common::UniqueFd(); }

  size_t reads() const { return reads_; }

 private:
  IoResult Copy(char* buf, size_t size, bool consume);

  std::string input_;
  size_t read_pos_ = 0;
  bool eof_ = false;
  std::string output_;
  size_t write_room_ = static_cast<size_t>(-1);
  int error_ = 0;
  size_t unsent_ = 0;
  size_t reads_ = 0;
};

}  // namespace server

#endif  // SERVER_SESSION_MEMORY_TRANSPORT_H_
