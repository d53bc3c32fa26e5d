#ifndef COMMON_BUILD_INFO_H_
#define COMMON_BUILD_INFO_H_

// What `--version` prints: the release version (the VERSION file at the top
// of the tree) and the git commit the binary was built from, written by a
// stamped genrule (common/BUILD.bazel) from Bazel's workspace status
// (tools/workspace_status.sh). "unknown" when the tree is not a git checkout;
// "-dirty" appended when tracked files had uncommitted changes.
//
// Thread safety: constants.

namespace common {

extern const char kBuildVersion[];
extern const char kBuildCommit[];

}  // namespace common

#endif  // COMMON_BUILD_INFO_H_
