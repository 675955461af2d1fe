"""Sends a signed trigger to a Hookhub source with the Python standard library."""
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.request
import uuid

url = os.environ.get("HOOKHUB_URL", "http://localhost:3000")
source = os.environ.get("HOOKHUB_SOURCE", "github")
secret = os.environ.get("HOOKHUB_SECRET")
if not secret:
    sys.exit("set HOOKHUB_SECRET to the source's secret")
body = os.environ.get("HOOKHUB_BODY", '{"ref": "refs/heads/main"}').encode("utf-8")

request = urllib.request.Request(
    f"{url}/hooks/{source}",
    data=body,
    method="POST",
    headers={
        "Content-Type": "application/json",
        "X-GitHub-Event": os.environ.get("HOOKHUB_EVENT", "push"),
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest(),
    },
)
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        status, text = response.status, response.read().decode("utf-8")
except urllib.error.HTTPError as error:
    status, text = error.code, error.read().decode("utf-8")
print(text)
print(f"status {status}")
sys.exit(0 if 200 <= status < 300 else 1)
