"""No secret in a log line: ``RedactSecrets``, the logging filter every Halo process puts on its log output.

Secrets that can reach a log line by way of a URL or a header value: a conversation token in ``?token=``
(older widgets open their socket with it; the access logs of uvicorn and gunicorn print the whole request
line, refused attempts included), a ``user_hash`` or ``user_jwt`` (they prove a user's identity), an API key
or other bearer credential, a Slack webhook's path, the signed token in the path of a customer email's link
(``/chat/<token>/``). ``redact_secrets`` replaces each value with
``[redacted]``, keeping the name, so a log still shows that a token was sent. Identity secrets and webhook
signing secrets never travel in URLs: they are kept out of logs by never being logged (``tests/security``);
a webhook signing secret (``whsec_…``) that reached a line anyway is redacted too.

Where the filter is installed, so that it sees every line of every process:
- Django's own logging (``settings.LOGGING``): the console handler, which every logger propagates to
  (``django.request``, ``django.server``, Channels, Celery's task loggers, httpx, axes, Halo's own).
- uvicorn (the ``ws`` process and ``manage.py serve``): its log configuration ``halo/uvicorn_logging.json``
  (``--log-config`` in the Procfile; ``serve`` passes the same file), on both of its handlers.
- gunicorn (the ``web`` process): ``gunicorn.conf.py`` names ``GunicornLogger``, which puts it on the access
  and error logs.

The filter rewrites a record's arguments (a tuple or, for gunicorn's access log, a mapping) and message in
place, value by value, so every formatter downstream still finds the arguments it expects.
"""

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornBaseLogger

REDACTED = "[redacted]"

# Query and form parameters whose value is a credential.
SECRET_PARAMETERS = (
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "user_hash",
    "user_jwt",
    "password",
    "signature",
)
_NAMES = "|".join(SECRET_PARAMETERS)
_PARAMETER = re.compile(rf"(?P<name>(?:^|(?<=[?&;\s\"'(]))(?:{_NAMES})=)[^&;\s\"'#)]+", re.IGNORECASE)
_BEARER = re.compile(r"(?P<name>\b(?:Bearer|Token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_API_KEY = re.compile(r"\bhalo_[0-9a-f]{12}_[0-9a-f]{64}\b")
_SLACK_WEBHOOK = re.compile(r"(?P<name>hooks\.slack\.com/services/)[^\s\"'?#]+")
_WEBHOOK_SECRET = re.compile(r"\bwhsec_[0-9a-f]{64}\b")
# The signed links of customer emails carry their credential in the path (``agents.links``).
_EMAIL_LINK = re.compile(r"(?P<name>/chat/(?:confirm/)?)[^/\s\"'?#]{16,}")


def redact_secrets(text: str) -> str:
    """``text`` with every credential value replaced by ``[redacted]``."""
    if "=" in text:
        text = _PARAMETER.sub(rf"\g<name>{REDACTED}", text)
    text = _BEARER.sub(rf"\g<name>{REDACTED}", text)
    if "halo_" in text:
        text = _API_KEY.sub(REDACTED, text)
    if "hooks.slack.com" in text:
        text = _SLACK_WEBHOOK.sub(rf"\g<name>{REDACTED}", text)
    if "whsec_" in text:
        text = _WEBHOOK_SECRET.sub(REDACTED, text)
    if "/chat/" in text:
        text = _EMAIL_LINK.sub(rf"\g<name>{REDACTED}", text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, bytes):
        return redact_secrets(value.decode("latin-1")).encode("latin-1")
    return value


class RedactSecrets(logging.Filter):
    """Redacts credentials in a record's message and arguments (see the module doc); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        return True


class GunicornLogger(GunicornBaseLogger):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's logger with ``RedactSecrets`` on its access and error logs (``gunicorn.conf.py``)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(existing, RedactSecrets) for existing in log.filters):
                log.addFilter(RedactSecrets())
