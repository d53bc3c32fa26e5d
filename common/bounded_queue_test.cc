#include "common/bounded_queue.h"

#include <atomic>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace common {
namespace {

TEST(BoundedQueueTest, FifoOrder) {
  BoundedQueue<int> q(3);
  for (int i : {1, 2, 3}) ASSERT_TRUE(q.TryPush(i));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(*q.Pop(), 2);
  EXPECT_EQ(*q.TryPop(), 3);
  EXPECT_FALSE(q.TryPop().has_value());
}

TEST(BoundedQueueTest, TryPushFailsWhenFullAndKeepsItem) {
  BoundedQueue<std::unique_ptr<int>> q(1);
  auto a = std::make_unique<int>(1);
  auto b = std::make_unique<int>(2);
  EXPECT_TRUE(q.TryPush(a));
  EXPECT_EQ(a, nullptr);
  EXPECT_FALSE(q.TryPush(b));
  ASSERT_NE(b, nullptr);  // the caller still owns the rejected item
  EXPECT_EQ(*b, 2);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.peak_size(), 1u);
  EXPECT_EQ(q.capacity(), 1u);
}

TEST(BoundedQueueTest, CloseWakesBlockedConsumers) {
  BoundedQueue<int> q(2);
  std::atomic<int> woke{0};
  std::vector<std::thread> consumers;
  for (int i = 0; i < 4; ++i) {
    consumers.emplace_back([&] {
      EXPECT_FALSE(q.Pop().has_value());
      woke.fetch_add(1);
    });
  }
  q.Close();
  for (auto& t : consumers) t.join();
  EXPECT_EQ(woke.load(), 4);
}

TEST(BoundedQueueTest, CloseWakesBlockedProducers) {
  BoundedQueue<int> q(1);
  int first = 1;
  ASSERT_TRUE(q.TryPush(first));
  absl::Notification started;
  std::thread producer([&] {
    started.Notify();
    int item = 2;
    EXPECT_FALSE(q.Push(item));
  });
  std::thread waiter([&] { EXPECT_FALSE(q.WaitForSpace()); });
  started.WaitForNotification();
  q.Close();
  producer.join();
  waiter.join();
}

TEST(BoundedQueueTest, ClosedQueueRefusesPushesAndKeepsItemsForTakeAll) {
  BoundedQueue<int> q(3);
  for (int i : {7, 8}) ASSERT_TRUE(q.TryPush(i));
  q.Close();
  EXPECT_TRUE(q.closed());
  int late = 9;
  EXPECT_FALSE(q.TryPush(late));
  EXPECT_FALSE(q.Push(late));
  EXPECT_FALSE(q.Pop().has_value());
  std::vector<int> left = q.TakeAll();
  EXPECT_EQ(left, (std::vector<int>{7, 8}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(BoundedQueueTest, BlockingPushWaitsForSpace) {
  BoundedQueue<int> q(1);
  int first = 1;
  ASSERT_TRUE(q.TryPush(first));
  std::thread producer([&] {
    int second = 2;
    EXPECT_TRUE(q.Push(second));
  });
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(*q.Pop(), 2);  // only possible once the blocked push completed
  producer.join();
}

// Many producers and consumers; every item is delivered exactly once.
TEST(BoundedQueueTest, MultiProducerMultiConsumerExactAccounting) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr int kPerProducer = 20000;
  BoundedQueue<int> q(8);
  std::vector<std::atomic<int>> seen(kProducers * kPerProducer);
  std::atomic<long long> sum{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      while (auto item = q.Pop()) {
        seen[*item].fetch_add(1);
        sum.fetch_add(*item);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        int item = p * kPerProducer + i;
        // Mix both push styles.
        if (i % 2 == 0) {
          ASSERT_TRUE(q.Push(item));
        } else {
          while (!q.TryPush(item)) std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  // Wait until the consumers have drained everything, then release them.
  while (q.size() > 0) std::this_thread::yield();
  // An item may be between Pop() and the counter update; Close() only stops
  // further pops, so wait for the counts to settle.
  const long long n = static_cast<long long>(kProducers) * kPerProducer;
  const long long expected_sum = n * (n - 1) / 2;
  while (sum.load() != expected_sum) std::this_thread::yield();
  q.Close();
  for (auto& t : consumers) t.join();
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
  EXPECT_LE(q.peak_size(), 8u);
}

}  // namespace
}  // namespace common
