#!/usr/bin/env bash
# Sends a signed trigger to a Hookhub source with curl and openssl.
set -euo pipefail
url="${HOOKHUB_URL:-http://localhost:3000}"
source="${HOOKHUB_SOURCE:-github}"
secret="${HOOKHUB_SECRET:?set HOOKHUB_SECRET to the secret of the source}"
event="${HOOKHUB_EVENT:-push}"
default_body='{"ref": "refs/heads/main"}'
body="${HOOKHUB_BODY:-$default_body}"
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/.*= //')
delivery=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || date +%s%N)
response=$(mktemp)
trap 'rm -f "$response"' EXIT
status=$(curl -sS -o "$response" -w '%{http_code}' -X POST "$url/hooks/$source" \
  -H 'Content-Type: application/json' \
  -H "X-GitHub-Event: $event" \
  -H "X-GitHub-Delivery: $delivery" \
  -H "X-Hub-Signature-256: sha256=$signature" \
  --data-binary "$body")
cat "$response"
echo
echo "status $status"
[[ "$status" == 2* ]]
