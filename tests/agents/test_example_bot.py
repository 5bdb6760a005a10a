"""The example bot of the docs (``docs/examples/bot.py``), its verification code exactly as published: a
delivery Halo signed passes; a forged one (another secret, a changed body, a made-up signature) and a
replayed one (a timestamp outside the tolerance) are rejected. The bot running against Halo's production
layout is ``tests/reliability/test_webhook_bot.py``."""

import importlib.util
import time
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from halo.webhooks.delivery import signature_header

BOT_PATH = Path(__file__).resolve().parents[2] / "docs" / "examples" / "bot.py"
SECRET = "whsec_" + "ab" * 32
BODY = b'{"id":"evt_1","type":"message.created","created_at":"2026-12-05T18:00:00Z","workspace":1,"data":{}}'


def load_bot() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_bot", BOT_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bot = load_bot()


def signed(body: bytes = BODY, *, secret: str = SECRET, at: float | None = None) -> str:
    return signature_header(secret=secret, body=body, timestamp=int(at if at is not None else time.time()))


def test_a_delivery_halo_signed_is_accepted() -> None:
    assert bot.verify(signed(), BODY, SECRET)


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (signed(secret="whsec_" + "cd" * 32), BODY),  # signed with another secret
        (signed(), BODY.replace(b"evt_1", b"evt_2")),  # the body changed after signing
        (signed().split(",v1=")[0] + ",v1=" + "0" * 64, BODY),  # a made-up signature
        (signed().split(",")[0], BODY),  # no signature at all
        ("", BODY),
        ("v1=abc,t=", BODY),
        ("t=12x,v1=" + "0" * 64, BODY),
    ],
    ids=["other-secret", "tampered-body", "made-up", "no-v1", "empty", "no-timestamp", "bad-timestamp"],
)
def test_a_forged_delivery_is_rejected(header: str, body: bytes) -> None:
    assert not bot.verify(header, body, SECRET)


@pytest.mark.parametrize("age", [bot.TOLERANCE + 1, 3600, -(bot.TOLERANCE + 1)], ids=["late", "an-hour", "future"])
def test_a_replayed_delivery_outside_the_tolerance_is_rejected(age: int) -> None:
    now = time.time()
    header = signed(at=now - age)  # a genuine signature, captured and sent again later
    assert not bot.verify(header, BODY, SECRET, now=now)
    assert bot.verify(header, BODY, SECRET, now=now - age)  # it was valid when Halo sent it


@given(body=st.binary(max_size=300), flip=st.integers(min_value=0))
def test_changing_any_byte_of_a_signed_body_is_rejected(body: bytes, flip: int) -> None:
    header = signed(body)
    assert bot.verify(header, body, SECRET)
    if body:
        position = flip % len(body)
        changed = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]
        assert not bot.verify(header, changed, SECRET)


def test_the_bot_escalates_a_refund_and_answers_anything_else() -> None:
    assert bot.answer("I want a REFUND")["tools"] == [{"name": "escalate", "reason": "refund"}]
    assert bot.answer("Hi there") == {"reply": "Hello from the bot! You wrote: Hi there", "confidence": 90, "tools": []}


def test_the_agents_readme_shows_the_bot_verbatim() -> None:
    readme = (BOT_PATH.parents[2] / "agents" / "README.md").read_text()
    assert f"```python\n{BOT_PATH.read_text()}```" in readme
