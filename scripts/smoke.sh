#!/usr/bin/env bash
# Boots the built hub on a fresh embedded store (no database server), waits for /health/ready, logs in with
# the bootstrap password, opens /api/auth/me, then restarts it on the same data dir and logs in again.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's Node (the `node` dev dependency, Node 24), as npm scripts use it.
export PATH="$PWD/node_modules/.bin:$PATH"
[ -f dist/apps/api/src/main.js ] || npm run build

DATA_DIR=$(mktemp -d)
PORT=${SMOKE_PORT:-3917}
PASSWORD="smoke-password-$$"
LOG="$DATA_DIR/hub.log"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$DATA_DIR"; }
trap cleanup EXIT

start_hub() {
  env -u DATABASE_URL HOOKHUB_DATA_DIR="$DATA_DIR" PORT="$PORT" HOST=127.0.0.1 HOOKHUB_ADMIN_PASSWORD="$PASSWORD" \
    node dist/apps/api/src/main.js >>"$LOG" 2>&1 &
  PID=$!
  local start=$SECONDS
  until curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1; do
    if ! kill -0 "$PID" 2>/dev/null; then echo "hub exited:"; tail -50 "$LOG"; exit 1; fi
    if (( SECONDS - start > 30 )); then echo "hub not ready within 30 s:"; tail -50 "$LOG"; exit 1; fi
    sleep 0.5
  done
  echo "ready in $((SECONDS - start)) s"
}

login() {
  curl -fsS -X POST "http://127.0.0.1:$PORT/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).access_token))'
}

start_hub
TOKEN=$(login)
curl -fsS "http://127.0.0.1:$PORT/api/auth/me" -H "authorization: Bearer $TOKEN" | grep -q '"role":"admin"'
curl -fsS "http://127.0.0.1:$PORT/docs-json" | grep -q '"/api/auth/login"'
kill -TERM "$PID"; wait "$PID" || true; PID=""

start_hub
# The token from before the restart still opens /me (same kept secret), and login still works.
curl -fsS "http://127.0.0.1:$PORT/api/auth/me" -H "authorization: Bearer $TOKEN" | grep -q '"username":"admin"'
TOKEN=$(login)
echo "smoke: ok (embedded store: ready, login, /me, docs, restart)"
