#include "client/source_ips.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace client {
namespace {

TEST(SourceIpsTest, RangesAndLists) {
  auto ips = ParseSourceIps("127.0.0.2-127.0.0.4,10.0.0.255-10.0.1.0,192.168.1.1");
  ASSERT_TRUE(ips.ok()) << ips.status();
  EXPECT_EQ(*ips, (std::vector<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4", "10.0.0.255",
                                            "10.0.1.0", "192.168.1.1"}));
}

TEST(SourceIpsTest, RejectsNonsense) {
  EXPECT_FALSE(ParseSourceIps("").ok());
  EXPECT_FALSE(ParseSourceIps("127.0.0.9-127.0.0.2").ok());
  EXPECT_FALSE(ParseSourceIps("localhost").ok());
  EXPECT_FALSE(ParseSourceIps("::1").ok());
  EXPECT_FALSE(ParseSourceIps("10.0.0.0-10.2.0.0").ok());  // too many
}

}  // namespace
}  // namespace client
