#include "client/pipelined_lines.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace client {
namespace {

std::string ReplyTo(const std::string& line) { return "ok ..." + line; }

TEST(PipelinedLinesTest, LinesAreUniqueAndFullLength) {
  PipelinedLines lines(7, 16, "ok ...");
  lines.Add(100, 101);
  lines.Add(200, 202);
  const std::string out(lines.Unwritten());
  ASSERT_EQ(out.size(), 32u);
  EXPECT_EQ(out.substr(0, 4), "7:0:");
  EXPECT_EQ(out.substr(16, 4), "7:1:");
  EXPECT_EQ(out[15], '\n');
  EXPECT_EQ(out[31], '\n');
  EXPECT_EQ(lines.in_flight(), 2u);
  lines.Written(10);
  EXPECT_EQ(lines.Unwritten().size(), 22u);
  lines.Written(22);
  EXPECT_TRUE(lines.Unwritten().empty());
}

// Replies arriving in arbitrary pieces complete the flights in order, each
// exactly once, with the due and sent times they were added with.
TEST(PipelinedLinesTest, RepliesInPiecesCompleteFlightsInOrder) {
  PipelinedLines lines(1, 20, "ok ...");
  std::string replies;
  for (int i = 0; i < 40; ++i) {
    lines.Add(i * 10, i * 10 + 1);
    const std::string all(lines.Unwritten());
    replies += ReplyTo(all.substr(all.size() - 20));
  }
  std::vector<int64_t> dues;
  size_t at = 0;
  for (size_t piece : {1u, 25u, 26u, 3u, 500u, 2000u}) {
    const std::string chunk = replies.substr(at, piece);
    at += chunk.size();
    size_t matched = 0;
    EXPECT_EQ(lines.Receive(chunk, &matched,
                            [&](const PipelinedLines::Flight& f) {
                              EXPECT_EQ(f.sent, f.due + 1);
                              dues.push_back(f.due);
                            }),
              PipelinedLines::Check::kOk);
    EXPECT_EQ(matched, chunk.size());
  }
  ASSERT_EQ(at, replies.size());
  ASSERT_EQ(dues.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(dues[i], i * 10);
  EXPECT_EQ(lines.in_flight(), 0u);
}

TEST(PipelinedLinesTest, MismatchAndUnaskedBytes) {
  PipelinedLines lines(2, 16, "ok ...");
  lines.Add(0, 0);
  const std::string reply = ReplyTo(std::string(lines.Unwritten()));
  size_t matched = 0;
  int completed = 0;
  auto count = [&](const PipelinedLines::Flight&) { ++completed; };
  std::string wrong = reply;
  wrong[8] = 'X';
  EXPECT_EQ(lines.Receive(wrong, &matched, count), PipelinedLines::Check::kMismatch);
  EXPECT_EQ(completed, 0);

  PipelinedLines again(2, 16, "ok ...");
  again.Add(0, 0);
  EXPECT_EQ(again.Receive(reply + "bye: server shutting down\r\n", &matched, count),
            PipelinedLines::Check::kUnasked);
  EXPECT_EQ(matched, reply.size());
  EXPECT_EQ(completed, 1);
}

}  // namespace
}  // namespace client
