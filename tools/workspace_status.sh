#!/bin/sh
# Bazel's --workspace_status_command (.bazelrc): the values a stamped rule
# (//common:build_info) may read from bazel-out/stable-status.txt. Only local
# git is asked, so it works offline; outside a git checkout (a source
# tarball) the commit is "unknown" and the build still succeeds.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null) || commit=unknown
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
echo "STABLE_GIT_COMMIT $commit"
