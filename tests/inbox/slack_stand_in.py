"""A local stand-in for a Slack incoming webhook, shared by the notification tests and the B6 benchmark.

It accepts at most one message per ``interval`` seconds and answers anything faster with 429 and
``Retry-After: 1``, as Slack does; ``forced`` responses are given first (to script a 404 or a 500). It
counts every request and keeps every accepted payload, so a caller can tell what was lost, duplicated or
retried. It measures time on ``halo.clock``, as Halo's limiter does, so a test's manual clock moves both.
``slack_stand_in_running`` serves it (``tests.agents.standins``) on a free loopback port.
"""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from halo import clock
from tests.agents.standins import stand_in_server

# A ticket named in a message: "<link|Ticket #12>" (one ticket) or "<link|#12>" (a digest line).
TICKET_REF = re.compile(r"\|(?:Ticket )?#(\d+)>")


class SlackStandIn:
    """Accepts at most one message per ``interval`` seconds (else 429 + Retry-After), like Slack."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self.rejected_429 = 0
        self.forced: list[tuple[int, dict[str, str], str]] = []  # responses to give first
        self.last_accepted_at = 0.0
        self.lock = threading.Lock()
        self.url = ""
        self.log: list[tuple[float, int]] = []  # (monotonic time, status) of every request

    def answer(self, body: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
        with self.lock:
            self.requests += 1
            now = clock.monotonic()
            if self.forced:
                status, headers, text = self.forced.pop(0)
            elif now - self.last_accepted_at < self.interval:
                self.rejected_429 += 1
                status, headers, text = 429, {"Retry-After": "1"}, "rate_limited"
            else:
                self.last_accepted_at = now
                self.accepted.append(body)
                status, headers, text = 200, {}, "ok"
            self.log.append((now, status))
            return status, text, headers

    def texts(self) -> list[str]:
        return [block["text"]["text"] for message in self.accepted for block in message["blocks"]]

    def ticket_ids(self) -> list[int]:
        """Every ticket id announced, once per announcement (a ticket announced twice appears twice)."""
        return [int(found) for text in self.texts() for found in TICKET_REF.findall(text)]


@contextmanager
def slack_stand_in_running(interval: float = 1.0) -> Iterator[SlackStandIn]:
    slack = SlackStandIn(interval)
    with stand_in_server(lambda request: slack.answer(request["json"] or {})) as server:
        slack.url = f"{server.url}/services/T000/B000/XXXX"
        yield slack
