#ifndef SERVER_CONNECTION_H_
#define SERVER_CONNECTION_H_

// Connection: an accepted client on its way from the acceptor to a worker.
// Move-only (it owns the socket); the queue hands it over by move.

#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace server {

struct Connection {
  common::UniqueFd socket;
  absl::Time accepted_at;
};

}  // namespace server

#endif  // SERVER_CONNECTION_H_
