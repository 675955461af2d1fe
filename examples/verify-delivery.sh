#!/usr/bin/env bash
# Verifies one Hookhub delivery's Standard Webhooks signature with bash and openssl: the body as a file (the
# raw bytes received) and the values of its webhook-id, webhook-timestamp and webhook-signature headers.
#
#   HOOKHUB_WEBHOOK_SECRET=whsec_... verify-delivery.sh BODY_FILE WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE
#
# Prints `verified <webhook-id> <event type>` and exits 0 when it is genuine and fresh; otherwise prints why
# not on stderr and exits 1 (2 for a usage error). Use it from whatever receives the request (a CGI script,
# a socat or inetd handler) and answer 401 when it fails.
set -euo pipefail
if [[ $# -ne 4 || ! -r "$1" ]]; then
  echo "usage: HOOKHUB_WEBHOOK_SECRET=whsec_... $0 BODY_FILE WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE" >&2
  exit 2
fi
secret="${HOOKHUB_WEBHOOK_SECRET:?set HOOKHUB_WEBHOOK_SECRET to the secret Hookhub returned for the webhook}"
body_file="$1" id="$2" timestamp="$3" signatures="$4"
tolerance=300

refuse() {
  echo "refused: $1" >&2
  exit 1
}

[[ -n "$id" && -n "$signatures" ]] || refuse 'missing webhook-id or webhook-signature'
[[ "$timestamp" =~ ^[0-9]{1,12}$ ]] || refuse 'bad webhook-timestamp'
age=$(($(date +%s) - 10#$timestamp))
((age <= tolerance && age >= -tolerance)) || refuse 'webhook-timestamp too old or too new'

# The key as hex (it is binary): a whsec_ secret's key is the base64 after the prefix, any other secret (set by
# hand) its UTF-8 bytes.
if [[ "$secret" == whsec_* ]]; then
  key_hex=$(printf '%s' "${secret#whsec_}" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
else
  key_hex=$(printf '%s' "$secret" | od -An -v -tx1 | tr -d ' \n')
fi
[[ -n "$key_hex" ]] || refuse 'the secret is empty or not valid base64'

# HMAC-SHA256 of "<id>.<timestamp>.<body>", base64.
expected="v1,$({ printf '%s.%s.' "$id" "$timestamp" && cat "$body_file"; } |
  openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | openssl base64 -A)"

# The shell has no constant-time comparison, so compare the SHA-256 of each side instead: what an attacker
# could learn from the time taken is about a hash they cannot steer, not about the expected signature.
digest() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -d' ' -f1; }
expected_digest=$(digest "$expected")
# During a secret rotation Hookhub sends one v1,<base64> per live secret, space separated: any may match.
verified=no
read -r -a presented <<<"$signatures"
for signature in "${presented[@]}"; do
  if [[ "$(digest "$signature")" == "$expected_digest" ]]; then verified=yes; fi
done
[[ "$verified" == yes ]] || refuse 'no signature matches'

# The event type, from the verified body: the compact JSON Hookhub sends starts {"id":"…","type":"…", and a
# webhook with body_format "sorted" ends with "type": "…"}. Use jq for anything more.
type=$(sed -n -e 's/^{"id":"[^"]*","type":"\([^"]*\)".*/\1/p' -e t -e 's/.*"type": "\([^"]*\)"}$/\1/p' "$body_file")
echo "verified $id ${type:-?}"
