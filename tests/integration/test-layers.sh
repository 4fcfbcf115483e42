#!/bin/sh
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

# The engine's layers (docs/design.md, "Layout"): a file in server/LAYER/
# includes headers of its own layer or of earlier ones only, so calls go
# one way.  This reads the sources; it needs no server.

set -e
top=${SRCDIR:-$(dirname "$0")}/../..
order="common storage devices pool export admin"

rank () {
  i=0
  for l in $order; do
    [ "$l" = "$1" ] && { echo $i; return; }
    i=$((i + 1))
  done
  echo -1
}

bad=0
for f in "$top"/server/*/*.[ch]; do
  layer=$(basename "$(dirname "$f")")
  r=$(rank "$layer")
  if [ "$r" -lt 0 ]; then
    echo "test-layers: $f: folder $layer is not a layer of docs/design.md"
    bad=1
    continue
  fi
  for inc in $(sed -n 's|^#include "\([a-z]*\)/.*|\1|p' "$f"); do
    [ "$inc" = swapdrum ] && continue
    ri=$(rank "$inc")
    if [ "$ri" -lt 0 ] || [ "$ri" -gt "$r" ]; then
      echo "test-layers: ${f#"$top"/}: includes $inc/, a later layer than $layer/"
      bad=1
    fi
  done
done
[ $bad -eq 0 ] && echo "test-layers: every include goes to the same or an earlier layer"
exit $bad
