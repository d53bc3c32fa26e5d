#ifndef SERVER_CONNECTION_H_
#define SERVER_CONNECTION_H_

// Connection: an accepted client on its way from the acceptor to a worker,
// with its place in the connection count (AdmissionTicket). Move-only: the
// queue hands it over by move, and dropping it closes the socket and gives
// the place back.

#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "server/admission_ticket.h"

namespace server {

struct Connection {
  common::UniqueFd socket;
  AdmissionTicket ticket;
  absl::Time accepted_at;
};

}  // namespace server

#endif  // SERVER_CONNECTION_H_
