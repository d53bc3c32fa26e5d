#include "common/thread_starter.h"

#include <pthread.h>
#include <sched.h>

#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace common {

absl::StatusOr<std::thread> StartThread(std::string name, std::function<void()> body) {
  try {
    return std::thread([name = std::move(name), body = std::move(body)] {
      ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
      body();
    });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot start a thread: ", e.what()));
  }
}

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

}  // namespace common
