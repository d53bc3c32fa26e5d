#!/usr/bin/env python3
"""Counts GoogleTest cases in Bazel's test.xml files.

Usage: count_tests.py TESTLOGS_DIR [--label NAME]
Prints "<label>: N passed, N failed, N skipped" and exits 0. A test binary
that crashed before writing its own XML still counts: Bazel writes a
stand-in XML with an <error>, counted as one failed case.
"""
import os
import sys
import xml.etree.ElementTree as ET


def count(root_dir):
    passed = failed = skipped = 0
    for dirpath, _, files in os.walk(root_dir, followlinks=True):
        if "test.xml" not in files:
            continue
        try:
            tree = ET.parse(os.path.join(dirpath, "test.xml"))
        except ET.ParseError:
            failed += 1
            continue
        for case in tree.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.get("result") == "skipped" or case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    passed, failed, skipped = count(sys.argv[1])
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
