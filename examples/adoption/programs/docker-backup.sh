#!/bin/sh
# Stands in for the docker backup script: prints its arguments, and fails (exit 3) when asked to.
echo "backup started with: $*"
for arg in "$@"; do
  [ "$arg" = "--fail" ] && { echo "backup failed" >&2; exit 3; }
done
echo "backup done"
