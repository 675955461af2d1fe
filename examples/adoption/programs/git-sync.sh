#!/bin/sh
# Stands in for the git manage service's sync: says which task it synced.
echo "synced task $1"
