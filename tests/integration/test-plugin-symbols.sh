#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# The plugin .so exports exactly one symbol, plugin_init: the engine's
# functions stay private, so they cannot clash with nbdkit or another
# plugin.  Also: nbdkit loads it and reports its thread model.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires nm --version
requires_plugin

syms=$(nm -D --defined-only "$PLUGIN" | awk '{ print $3 }' | sort)
say "dynamic symbols defined: $(echo $syms)"
[ "$syms" = plugin_init ] || fail "expected only plugin_init"

# The default thread model follows the nbdkit version (RHBZ#2173054:
# serialize_requests before 1.33.10); parallel= overrides it both ways.
model () { nbdkit "$PLUGIN" "$tmp/dev" "$@" --dump-plugin |
           awk -F= '$1 == "thread_model" { print $2 }'; }
truncate -s 1M "$tmp/dev"
version=$(nbdkit --version | awk '{ print $2 }')
default=$(model)
say "nbdkit $version: default thread model $default"
if printf '%s\n1.33.10\n' "$version" | sort -V -C; then
    [ "$default" = serialize_requests ] ||
        fail "nbdkit $version < 1.33.10 must default to serialize_requests"
else
    [ "$default" = parallel ] || fail "nbdkit $version should be parallel"
fi
[ "$(model parallel=true)" = parallel ] || fail "parallel=true ignored"
[ "$(model parallel=false)" = serialize_requests ] ||
    fail "parallel=false ignored"
say "PASS"
