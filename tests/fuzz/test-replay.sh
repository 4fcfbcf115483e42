#!/bin/bash
# swapdrum: replay the fuzz corpus and every input that once broke a
# harness through the in-process harnesses, built without libFuzzer
# (tests/fuzz/replay.c): a crash or a broken check fails the test.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# make check sets FUZZ_SRCDIR (tests/fuzz in the source tree) and
# BUILDDIR.  Under SANITIZE=1 (.ci/run's second pass) the replay
# programs are built with ASan and UBSan, leak checking included.

set -euo pipefail
: "${FUZZ_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${BUILDDIR:=$PWD}"

for name in devspec conffile admin export records; do
    "$BUILDDIR/tests/fuzz/replay-$name" \
        "$FUZZ_SRCDIR/corpus/$name" "$FUZZ_SRCDIR/regressions/$name"
done
