#ifndef SERVER_HTTP_HTTP_SERVER_H_
#define SERVER_HTTP_HTTP_SERVER_H_

// HttpServer: a small HTTP/1.1 server on one event-loop thread, for the
// metrics port's few fixed GET endpoints.
//
// Why: a thread per connection (civetweb, which served this port before)
// lets a handful of silent connections hold every thread, and a liveness
// probe that cannot get through gets a healthy server killed. Here one
// thread multiplexes every connection on common/EventLoop, so an idle
// connection costs a descriptor and two small buffers, never a thread, and
// each probe is answered as soon as its request has arrived.
//
// What it serves: GET and HEAD (others: 405) on the paths in
// Options::routes (others: 404); a route's function builds the response on
// the server's thread. Keep-alive and pipelining: requests on a connection
// are answered in order; "Connection: close" and HTTP/1.0 close after the
// response. No request bodies.
//
// Bounds (hostile clients cannot spin it, grow its memory or lock probes
// out):
//   * request heads over Options::max_head_bytes: 431, then close;
//     malformed: 400 (see http_request_parser.h), then close;
//   * a connection that has not sent a complete request within
//     Options::header_timeout of being accepted or answered is closed (a
//     slowloris sender or an idle keep-alive connection alike);
//   * a connection whose response does not drain (the client stopped
//     reading) is closed after Options::write_timeout without progress;
//     pipelined requests are not parsed while more than kOutputCap bytes of
//     responses are waiting, and a connection's unread input stops being
//     read at kInputCap, so buffers stay bounded;
//   * at most Options::max_connections at once: a new connection beyond
//     that closes the oldest connection waiting for a request, so a flood
//     cannot refuse a probe, it only shortens the flood's own connections;
//     if the process is out of descriptors, the same;
//   * per turn, a connection gets at most kRequestsPerTurn requests, so one
//     pipelining client cannot delay the others.
//
// Thread safety: Start() and the destructor from the owner; port() from any
// thread. Route functions run on the server's thread, one at a time.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/deadline_index.h"
#include "common/event_loop.h"
#include "common/unique_fd.h"

namespace server {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Added verbatim, each "Name: value" (no CRLF).
  std::vector<std::string> headers;
};

class HttpServer : private common::EventLoop::Handler {
 public:
  struct Options {
    // A numeric IPv4 or IPv6 address (no brackets); 0 picks a free port.
    std::string host = "127.0.0.1";
    int port = 0;
    size_t max_connections = 4096;
    absl::Duration header_timeout = absl::Seconds(10);
    absl::Duration write_timeout = absl::Seconds(10);
    size_t max_head_bytes = 8 * 1024;
    // Path -> response, for GET and HEAD (HEAD sends the head only).
    absl::flat_hash_map<std::string, std::function<HttpResponse()>> routes;
  };

  static constexpr size_t kOutputCap = 256 * 1024;
  static constexpr size_t kInputCap = 16 * 1024;
  static constexpr int kRequestsPerTurn = 16;

  // Binds, listens and starts the thread. Unavailable with the kernel's
  // reason if the address cannot be bound; ResourceExhausted without a
  // thread or an epoll set.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Options options);

  // Closes every connection and joins the thread: no route runs afterwards.
  ~HttpServer() override;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  struct Connection;

  explicit HttpServer(Options options);

  // EventLoop::Handler, on the server's thread.
  void OnWake(absl::Time now) override;
  void OnReady(uint64_t token, uint32_t readiness, absl::Time now) override;
  void OnDue(uint64_t token, absl::Time now) override;
  common::DeadlineIndex::Entry& TimerEntry(uint64_t token) override;

  void AcceptAll(absl::Time now);
  // Closes the connection longest without a request in progress; false if
  // there is none.
  bool EvictOldestIdle();
  // Writes, answers and reads as far as the connection allows this turn;
  // may close it.
  void Drive(uint64_t token, absl::Time now);
  // Answers complete requests in c.input (each takes one of `budget`) while
  // the output stays under kOutputCap.
  void AnswerRequests(Connection& c, int& budget);
  void Respond(Connection& c, bool head_only, bool keep_alive, const HttpResponse& response);
  void Close(uint64_t token);

  const Options options_;
  common::UniqueFd listener_;
  int port_ = 0;
  std::unique_ptr<common::EventLoop> loop_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  // Loop-thread state. Tokens grow, so the map's order is age order.
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t next_token_ = 2;
  // Out of descriptors: the listener is unwatched until this deadline.
  common::DeadlineIndex::Entry listener_timer_;
  bool listener_paused_ = false;
};

}  // namespace server

#endif  // SERVER_HTTP_HTTP_SERVER_H_
