// Google Benchmark micro-benchmarks of the hot paths:
//   * BoundedQueue push/pop under contention (producers = consumers = threads),
//   * LineFramer throughput (bytes/s) for several line lengths,
//   * Session echo of one line over a socketpair (the server's per-line work,
//     two system calls included).
//
//   bazel run //tools:micro_benchmarks
//   bazel run //tools:micro_benchmarks -- --benchmark_filter=Framer

#include <sys/socket.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/bounded_queue.h"
#include "common/line_framer.h"
#include "common/socket.h"
#include "server/session/session.h"
#include "server/session/socket_transport.h"
#include "server/stats.h"

namespace {

// Each benchmark thread both pushes and pops, so the queue sees contention
// from both ends; capacity is small to exercise the full/empty waits.
void BM_QueuePushPop(benchmark::State& state) {
  static common::BoundedQueue<int>* queue = nullptr;
  if (state.thread_index() == 0) queue = new common::BoundedQueue<int>(64);
  // Other threads start only after thread 0's setup (Google Benchmark
  // synchronizes threads before the timed loop).
  for (auto _ : state) {
    int item = 1;
    queue->Push(item);
    benchmark::DoNotOptimize(queue->Pop());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete queue;
    queue = nullptr;
  }
}
BENCHMARK(BM_QueuePushPop)->ThreadRange(1, 8)->UseRealTime();

void BM_FramerThroughput(benchmark::State& state) {
  const size_t line_len = static_cast<size_t>(state.range(0));
  std::string line(line_len - 1, 'x');
  line.push_back('\n');
  std::string chunk;
  while (chunk.size() < 64 * 1024) chunk += line;
  common::LineFramer framer(64 * 1024);
  size_t lines = 0;
  for (auto _ : state) {
    // Feed in odd-sized pieces so lines straddle reads, as on a socket.
    for (size_t pos = 0; pos < chunk.size(); pos += 1500) {
      framer.Feed(absl::string_view(chunk).substr(pos, 1500),
                  [&](absl::string_view l) { lines += l.size() > 0; });
    }
  }
  benchmark::DoNotOptimize(lines);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_FramerThroughput)->Arg(16)->Arg(64)->Arg(1024)->Arg(8192);

// One line in, one reply out, through a real Session on a socketpair.
void BM_SessionEcho(benchmark::State& state) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    state.SkipWithError("socketpair");
    return;
  }
  common::UniqueFd client(sv[1]);
  server::SessionConfig config;
  config.welcome_line = "welcome to server.\r\n";
  config.reply_prefix = "ok ...";
  server::Stats stats;
  server::WorkerCounters counters;
  server::WorkerContext context(config, &counters);
  server::Session session(std::make_unique<server::SocketTransport>(common::UniqueFd(sv[0])),
                          server::AdmissionTicket(), &config, &stats, absl::Now());
  const std::string line(63, 'x');
  const std::string wire = line + "\n";
  char reply[256];
  session.Resume(absl::Now(), context);
  ::recv(client.get(), reply, sizeof(reply), 0);  // the welcome
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    ::send(client.get(), wire.data(), wire.size(), MSG_NOSIGNAL);
    session.Resume(now, context);
    benchmark::DoNotOptimize(::recv(client.get(), reply, sizeof(reply), 0));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SessionEcho);

}  // namespace

BENCHMARK_MAIN();
