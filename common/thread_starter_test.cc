#include "common/thread_starter.h"

#include <pthread.h>
#include <sched.h>

#include <string>

#include "gtest/gtest.h"

namespace common {
namespace {

TEST(StartThread, RunsTheBodyUnderItsName) {
  std::string seen;
  auto thread = StartThread("worker-with-a-long-name", [&] {
    char name[16] = {};
    ::pthread_getname_np(::pthread_self(), name, sizeof(name));
    seen = name;
  });
  ASSERT_TRUE(thread.ok()) << thread.status();
  thread->join();
  EXPECT_EQ(seen, "worker-with-a-l");  // the kernel keeps 15 characters
}

TEST(UsableCpus, FollowsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(UsableCpus(), CPU_COUNT(&set));

  // Restricted to one CPU (what `taskset -c N` does), the count follows.
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) {
        CPU_SET(cpu, &one);
        break;
      }
    }
    ASSERT_EQ(::sched_setaffinity(0, sizeof(one), &one), 0);
    EXPECT_EQ(UsableCpus(), 1);
  });
  pinned.join();
}

}  // namespace
}  // namespace common
