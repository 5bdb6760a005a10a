"""The credential filter of every process's logs (``halo.logs``): what it redacts, that it keeps every
formatter working (tuple and mapping arguments), and that each server's configuration installs it."""

import json
import logging
import string
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config as GunicornConfig
from hypothesis import given
from hypothesis import strategies as st

from halo.celery import _redact_secrets_in_worker_logs
from halo.logs import REDACTED, GunicornLogger, RedactSecrets, redact_secrets

ROOT = Path(__file__).resolve().parents[2]
KEY = "halo_0123456789ab_" + "c" * 64


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1:5 - "WebSocket /ws/widget/conversations/7/?token=AbC-123_xyz" [accepted]',
            '127.0.0.1:5 - "WebSocket /ws/widget/conversations/7/?token=[redacted]" [accepted]',
        ),
        ("GET /m?after=3&token=abc&x=1 HTTP/1.1", "GET /m?after=3&token=[redacted]&x=1 HTTP/1.1"),
        ("GET /config?app_id=a&user_id=u&user_hash=00ff", "GET /config?app_id=a&user_id=u&user_hash=[redacted]"),
        ("?user_jwt=eyJ.a.b&TOKEN=x", "?user_jwt=[redacted]&TOKEN=[redacted]"),
        ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer [redacted]"),
        (f"key {KEY} revoked", "key [redacted] revoked"),
        ("POST https://hooks.slack.com/services/T0/B0/s3cr3t", "POST https://hooks.slack.com/services/[redacted]"),
        (f"new endpoint whsec_{'9f' * 32}.", "new endpoint [redacted]."),
        (
            '"GET /chat/eyJjb252ZXJzYXRpb24iOjd9:1vS0aB:Xy_z-0123456789abcdefghij/ HTTP/1.1" 200',
            '"GET /chat/[redacted]/ HTTP/1.1" 200',
        ),
        ("POST /chat/confirm/eyJjb250YWN0IjoxfQ:1vS0aB:abcdefghijklmnop/", "POST /chat/confirm/[redacted]/"),
        ("mytoken=kept&monkey=kept", "mytoken=kept&monkey=kept"),  # only whole parameter names
        ("no secret here", "no secret here"),
    ],
)
def test_credentials_are_redacted_and_the_rest_kept(line: str, expected: str) -> None:
    assert redact_secrets(line) == expected


# What a query value can hold in a request line (anything else is percent-encoded by the client).
QUERY_VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-._~%+=/:@!$*,?", min_size=1, max_size=80)


@given(QUERY_VALUE)
def test_no_token_value_survives(value: str) -> None:
    line = f"GET /ws/widget/conversations/1/?token={value}&after=2"
    assert redact_secrets(line) == "GET /ws/widget/conversations/1/?token=[redacted]&after=2"


def record(msg: str, args: Any) -> logging.LogRecord:
    return logging.LogRecord("x", logging.INFO, __file__, 1, msg, args, None)


def test_the_filter_keeps_the_arguments_formatters_expect() -> None:
    uvicorn_access = record('%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/m?token=abc", "1.1", 200))
    assert RedactSecrets().filter(uvicorn_access)
    assert uvicorn_access.args == ("1.2.3.4:5", "GET", f"/m?token={REDACTED}", "1.1", 200)

    gunicorn_access = record('%(h)s "%(r)s" %(s)s', {"h": "1.2.3.4", "r": "GET /m?token=abc HTTP/1.1", "s": "200"})
    assert RedactSecrets().filter(gunicorn_access)
    assert gunicorn_access.getMessage() == '1.2.3.4 "GET /m?token=[redacted] HTTP/1.1" 200'

    already_formatted = record("Not Found: /x?token=abc", None)
    assert RedactSecrets().filter(already_formatted)
    assert already_formatted.getMessage() == "Not Found: /x?token=[redacted]"


def test_every_process_installs_the_filter() -> None:
    uvicorn_config = json.loads((ROOT / "halo" / "uvicorn_logging.json").read_text())
    assert uvicorn_config["filters"]["redact_secrets"]["()"] == "halo.logs.RedactSecrets"
    assert all(handler["filters"] == ["redact_secrets"] for handler in uvicorn_config["handlers"].values())

    procfile = (ROOT / "Procfile").read_text()
    assert "--config gunicorn.conf.py" in procfile
    assert "--log-config halo/uvicorn_logging.json" in procfile
    assert 'logger_class = "halo.logs.GunicornLogger"' in (ROOT / "gunicorn.conf.py").read_text()
    logger = GunicornLogger(GunicornConfig())
    assert any(isinstance(f, RedactSecrets) for f in logger.access_log.filters)
    assert any(isinstance(f, RedactSecrets) for f in logger.error_log.filters)

    from django.conf import settings

    assert settings.LOGGING["handlers"]["console"]["filters"] == ["redact_secrets"]

    worker = logging.getLogger("test-celery-worker")
    worker.addHandler(logging.StreamHandler())
    _redact_secrets_in_worker_logs(logger=worker)
    assert any(isinstance(f, RedactSecrets) for f in worker.handlers[0].filters)
