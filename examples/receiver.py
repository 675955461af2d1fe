"""Receives Hookhub's deliveries and verifies their Standard Webhooks signature (Python 3 standard library).

    HOOKHUB_WEBHOOK_SECRET=whsec_... PORT=8000 python3 receiver.py
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

TOLERANCE_SECONDS = 5 * 60
MAX_BODY_BYTES = 1024 * 1024


def signing_key(secret: str) -> bytes:
    """A `whsec_` secret's key is the base64 after the prefix; any other secret (set by hand) is its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode("utf-8")


def verify(key: bytes, headers, body: bytes, now: Optional[float] = None) -> Optional[str]:
    """Returns None when the delivery is genuine and fresh, else why not."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if msg_id is None or timestamp is None or signatures is None:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if not (timestamp.isascii() and timestamp.isdigit()):
        return "bad webhook-timestamp"
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        return "webhook-timestamp too old or too new"
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode("utf-8") + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode("ascii")
    # During a secret rotation Hookhub sends one `v1,<base64>` per live secret, space separated: any may match.
    # hmac.compare_digest compares in constant time.
    for signature in signatures.split(" "):
        if hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii")):
            return None
    return "no signature matches"


class Receiver(BaseHTTPRequestHandler):
    key = b""

    def answer(self, status: int, text: str = "") -> None:
        self.send_response(status)
        if status == 204:  # no content, and no Content-Length either
            self.end_headers()
            return
        data = text.encode("utf-8")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return self.answer(411, "Content-Length required\n")
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return self.answer(413, "too large\n")
        body = self.rfile.read(length)  # the raw bytes, exactly as sent: verify them before parsing
        refused = verify(self.key, self.headers, body)
        if refused:
            print(f"refused: {refused}", file=sys.stderr, flush=True)
            return self.answer(401, "invalid signature\n")
        try:
            event = json.loads(body)
        except ValueError:
            return self.answer(400, "not JSON\n")
        # Handle the event here. Hookhub retries until it gets a 2xx, so the same webhook-id can arrive twice.
        print(f"verified {self.headers['webhook-id']} {event.get('type')}", flush=True)
        self.answer(204)

    def refuse_method(self) -> None:
        self.close_connection = True
        self.answer(405, "POST only\n")

    do_GET = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = refuse_method

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's parameter name)
        pass  # quiet: one line per verified delivery on stdout, refusals on stderr


if __name__ == "__main__":
    secret = os.environ.get("HOOKHUB_WEBHOOK_SECRET")
    if not secret:
        sys.exit("set HOOKHUB_WEBHOOK_SECRET to the secret Hookhub returned when the webhook was created")
    Receiver.key = signing_key(secret)
    server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))), Receiver)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    server.serve_forever()
