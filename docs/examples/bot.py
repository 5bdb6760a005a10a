"""An external bot for Halo: verifies each delivery's signature, answers `message.created` through the
`ai-turns` API, and calls the `escalate` tool (a ticket opens) when a customer asks for a refund.
Run: HALO_URL=https://halo.example.com HALO_API_KEY=… HALO_WEBHOOK_SECRET=… PORT=8001 python bot.py"""

import hashlib
import hmac
import json
import os
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds: a signature older than this is a replay
answered: set[str] = set()  # event ids: Halo delivers at least once, the bot answers once


def verify(header: str, body: bytes, secret: str, now: float | None = None) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    expected = hmac.new(secret.encode(), f"{parts.get('t')}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = parts.get("t", "").isdigit() and abs((now or time.time()) - int(parts["t"])) <= TOLERANCE
    return bool(fresh) and hmac.compare_digest(expected, parts.get("v1", ""))


def answer(text: str) -> dict[str, object]:
    if "refund" in text.lower():
        return {"reply": "A teammate will sort out your refund.", "tools": [{"name": "escalate", "reason": "refund"}]}
    return {"reply": f"Hello from the bot! You wrote: {text}", "confidence": 90, "tools": []}


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not verify(self.headers.get("Halo-Signature", ""), body, os.environ["HALO_WEBHOOK_SECRET"]):
            return self.send_error(400, "Bad signature")
        event = json.loads(body)
        message, conversation = event["data"].get("message", {}), event["data"].get("conversation", {})
        wanted = event["type"] == "message.created" and event["id"] not in answered
        if wanted and message["author"] == "user" and conversation["status"] == "open":
            turn = json.dumps(answer(message["body"])).encode()
            url = f"{os.environ['HALO_URL']}/api/v1/conversations/{conversation['id']}/ai-turns"
            headers = {"Authorization": f"Bearer {os.environ['HALO_API_KEY']}", "Content-Type": "application/json"}
            urllib.request.urlopen(urllib.request.Request(url, turn, headers), timeout=10).close()  # noqa: S310
            answered.add(event["id"])
        self.send_response(204)  # after an error above no answer is sent: Halo delivers the event again
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8001"))), Webhook).serve_forever()
