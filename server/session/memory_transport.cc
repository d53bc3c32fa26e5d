#include "server/session/memory_transport.h"

#include <algorithm>
#include <cstring>

namespace server {

std::string MemoryTransport::TakeOutput() {
  std::string out;
  out.swap(output_);
  return out;
}

IoResult MemoryTransport::Copy(char* buf, size_t size, bool consume) {
  if (error_ != 0) return {IoResult::Status::kError, 0, error_};
  const size_t left = input_.size() - read_pos_;
  if (left == 0) return {eof_ ? IoResult::Status::kEof : IoResult::Status::kWouldBlock};
  const size_t n = std::min(left, size);
  std::memcpy(buf, input_.data() + read_pos_, n);
  if (consume) read_pos_ += n;
  // Memory knows exactly what is left: drained when this took all of it.
  return {IoResult::Status::kOk, n, 0, n == left && !eof_};
}

IoResult MemoryTransport::Read(char* buf, size_t size) {
  ++reads_;
  return Copy(buf, size, /*consume=*/true);
}

IoResult MemoryTransport::Peek(char* buf, size_t size) { return Copy(buf, size, false); }

IoResult MemoryTransport::Write(const char* data, size_t size) {
  if (error_ != 0) return {IoResult::Status::kError, 0, error_};
  const size_t n = std::min(size, write_room_);
  if (n == 0) return {IoResult::Status::kWouldBlock};
  output_.append(data, n);
  if (write_room_ != static_cast<size_t>(-1)) write_room_ -= n;
  return {IoResult::Status::kOk, n};
}

}  // namespace server
