"""Local stand-in HTTP servers that speak real wire formats (OpenAI chat completions, SearxNG JSON).

Halo's outbound client refuses loopback addresses unless ``HALO_OUTBOUND_ALLOW_HOSTS`` names them, as an
operator would name an internal service: a stand-in adds its address to it while it runs.
"""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.test import override_settings

# (method, path, query, headers, json body) -> (status, json body) or (status, json body, extra headers)
Reply = Callable[[dict[str, Any]], tuple[int, Any] | tuple[int, Any, dict[str, str]]]


class StandIn:
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.url = ""


@contextmanager
def stand_in_server(reply: Reply, *, host: str = "127.0.0.1", allow: bool = True) -> Iterator[StandIn]:
    """Serve ``reply`` on a free port of ``host`` (``::1`` for IPv6). ``allow=False`` leaves it out of
    ``HALO_OUTBOUND_ALLOW_HOSTS``, as an internal server an attacker points Halo at."""
    stand_in = StandIn(reply)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = {
                "method": self.command,
                "path": parts.path,
                "query": {key: values[0] for key, values in parse_qs(parts.query).items()},
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "json": json.loads(raw) if raw else None,
                "raw": raw,
            }
            stand_in.requests.append(request)
            status, body, *extra = stand_in.reply(request)
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server_class = (
        type("Server", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
        if ":" in host
        else ThreadingHTTPServer
    )
    server = server_class((host, 0), Handler)
    stand_in.url = f"http://{f'[{host}]' if ':' in host else host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        allowed = [*settings.HALO_OUTBOUND_ALLOW_HOSTS, *([host] if allow else [])]
        with override_settings(HALO_OUTBOUND_ALLOW_HOSTS=allowed):
            yield stand_in
    finally:
        server.shutdown()
        server.server_close()


def chat_completion(message: dict[str, Any], *, finish_reason: str = "stop") -> dict[str, Any]:
    """A chat-completions response body as OpenAI sends it."""
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "stand-in-model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
