#include "common/line_framer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace common {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Collector {
  std::vector<std::string> lines;
  bool Feed(LineFramer& framer, absl::string_view data) {
    return framer.Feed(data, [this](absl::string_view line) { lines.emplace_back(line); });
  }
};

TEST(LineFramerTest, SplitsLinesInOneRead) {
  LineFramer framer(100);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "one\ntwo\nthree\n"));
  EXPECT_THAT(c.lines, ElementsAre("one\n", "two\n", "three\n"));
  EXPECT_EQ(framer.pending_bytes(), 0u);
}

TEST(LineFramerTest, JoinsLinesAcrossReads) {
  LineFramer framer(100);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "hel"));
  EXPECT_THAT(c.lines, IsEmpty());
  EXPECT_EQ(framer.pending_bytes(), 3u);
  EXPECT_TRUE(c.Feed(framer, "lo\nwor"));
  EXPECT_TRUE(c.Feed(framer, "ld"));
  EXPECT_TRUE(c.Feed(framer, "\n"));
  EXPECT_THAT(c.lines, ElementsAre("hello\n", "world\n"));
}

TEST(LineFramerTest, ByteAtATime) {
  LineFramer framer(100);
  Collector c;
  const std::string input = "ab\r\n\ncd\n";
  for (char ch : input) EXPECT_TRUE(c.Feed(framer, std::string(1, ch)));
  EXPECT_THAT(c.lines, ElementsAre("ab\r\n", "\n", "cd\n"));
}

TEST(LineFramerTest, KeepsCrLfAndEmptyLines) {
  LineFramer framer(100);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "hello\r\n\r\n\n"));
  EXPECT_THAT(c.lines, ElementsAre("hello\r\n", "\r\n", "\n"));
}

TEST(LineFramerTest, BinaryBytesAreOpaque) {
  LineFramer framer(100);
  Collector c;
  const std::string binary("a\0b\xff\xfe\r\x01\n", 8);
  EXPECT_TRUE(c.Feed(framer, binary));
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0], binary);
}

TEST(LineFramerTest, LineOfExactlyMaxBytesIsAccepted) {
  LineFramer framer(5);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "12345"));
  EXPECT_TRUE(c.Feed(framer, "\n"));
  EXPECT_TRUE(c.Feed(framer, "abcde\n"));
  EXPECT_THAT(c.lines, ElementsAre("12345\n", "abcde\n"));
}

TEST(LineFramerTest, LimitCountsTheLineWithoutItsCrLf) {
  LineFramer framer(5);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "12345\r\n"));  // telnet's line of exactly the limit
  EXPECT_TRUE(c.Feed(framer, "abcde\r"));    // may still become "\r\n"
  EXPECT_EQ(framer.pending_bytes(), 6u);
  EXPECT_TRUE(c.Feed(framer, "\n"));
  EXPECT_THAT(c.lines, ElementsAre("12345\r\n", "abcde\r\n"));
}

TEST(LineFramerTest, CarriageReturnInsideTheLineCounts) {
  LineFramer framer(5);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "12345\r"));
  EXPECT_FALSE(c.Feed(framer, "x"));  // the '\r' was content after all
  EXPECT_EQ(framer.pending_bytes(), 0u);

  LineFramer fits(5);
  EXPECT_TRUE(c.Feed(fits, "1234\r\r\n"));  // content "1234\r", then "\r\n"
  LineFramer too_long(5);
  EXPECT_FALSE(c.Feed(too_long, "12345\r\r\n"));
  EXPECT_THAT(c.lines, ElementsAre("1234\r\r\n"));
}

TEST(LineFramerTest, PartialLineOverMaxFails) {
  LineFramer framer(5);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "123"));
  EXPECT_FALSE(c.Feed(framer, "456"));
  EXPECT_TRUE(framer.failed());
  EXPECT_EQ(framer.pending_bytes(), 0u);  // nothing past the bound is kept
  EXPECT_FALSE(c.Feed(framer, "\nok\n"));  // failure is permanent
  EXPECT_THAT(c.lines, IsEmpty());
}

TEST(LineFramerTest, CompleteLineOverMaxFailsWhateverTheChunking) {
  LineFramer framer(5);
  Collector c;
  EXPECT_FALSE(c.Feed(framer, "123456\n"));
  EXPECT_THAT(c.lines, IsEmpty());
}

TEST(LineFramerTest, LinesBeforeOverlongOneAreDelivered) {
  LineFramer framer(5);
  Collector c;
  EXPECT_FALSE(c.Feed(framer, "ok\nfine\ntoo-long-line\nlater\n"));
  EXPECT_THAT(c.lines, ElementsAre("ok\n", "fine\n"));
}

TEST(LineFramerTest, PartialDataAtEofStaysPending) {
  LineFramer framer(100);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "done\nunfinished"));
  EXPECT_THAT(c.lines, ElementsAre("done\n"));
  EXPECT_EQ(framer.pending_bytes(), 10u);  // the session discards it at EOF
}

TEST(LineFramerTest, ReleaseMemoryOnlyWhenEmpty) {
  LineFramer framer(100);
  Collector c;
  EXPECT_TRUE(c.Feed(framer, "partial"));
  framer.ReleaseMemoryIfEmpty();
  EXPECT_EQ(framer.pending_bytes(), 7u);
  EXPECT_TRUE(c.Feed(framer, "\n"));
  framer.ReleaseMemoryIfEmpty();
  EXPECT_EQ(framer.pending_bytes(), 0u);
  EXPECT_THAT(c.lines, ElementsAre("partial\n"));
}

}  // namespace
}  // namespace common
