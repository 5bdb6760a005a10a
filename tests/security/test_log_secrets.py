"""No secret in any log line of any process (security bar S10), checked on the real processes' output.

The ``web`` (gunicorn) and ``ws`` (uvicorn) processes are started exactly as the Procfile says, and
``manage.py serve`` as ``make run`` does, all at INFO and over one SQLite data directory. A widget
conversation is started, then its token is used every way a client can: in the first frame of the socket
(accepted) and a wrong one (refused), in ``?token=`` as older widgets do (accepted and refused), in
``?token=`` on the HTTP API, and a ``user_hash`` in ``config``. Every line the processes wrote is then read:
no token, wrong token or hash appears, and the request lines that carried one show ``token=[redacted]``.
"""

import hashlib
import hmac
import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.browser import MANAGE, ROOT, server_env
from tests.reliability.processes import free_port, halo_process

pytestmark = pytest.mark.slow

WRONG_TOKEN = "wrong-token-5c1b8e0f7a2d4b6c9e3f"


def procfile_command(name: str) -> list[str]:
    """The Procfile's command for process ``name``, run by a shell as a platform would."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return ["bash", "-c", "exec " + line.split(":", 1)[1].strip()]
    raise AssertionError(f"no {name} process in the Procfile")


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*MANAGE, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def socket_sessions(port: int, conversation_id: int, token: str) -> list[str]:
    """Every way to open the widget socket, each answered as it should be; returns what happened."""
    base = f"ws://127.0.0.1:{port}/ws/widget/conversations/{conversation_id}/"
    seen = []
    with connect(base) as socket:  # the token in the first frame
        socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "ready"}
        seen.append("frame accepted")
    with connect(base) as socket:
        socket.send(json.dumps({"type": "auth", "token": WRONG_TOKEN}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
        seen.append("frame refused")
    with connect(f"{base}?token={token}"):  # as older widgets do
        seen.append("url accepted")
    with pytest.raises(InvalidStatus), connect(f"{base}?token={WRONG_TOKEN}"):
        pass
    seen.append("url refused")
    return seen


def http_uses(base: str, app_id: str, conversation_id: int, token: str, user_hash: str) -> None:
    messages = f"{base}/api/widget/v1/conversations/{conversation_id}/messages"
    assert httpx.get(f"{messages}?token={token}&after=0", timeout=10).status_code == 200
    assert httpx.get(f"{messages}?token={WRONG_TOKEN}", timeout=10).status_code in (401, 404)
    config = f"{base}/api/widget/v1/config?app_id={app_id}&user_id=u-1&user_hash={user_hash}"
    assert httpx.get(config, timeout=10).status_code == 200


def test_no_process_logs_a_token_or_a_user_hash(tmp_path: Path) -> None:
    web_port, ws_port, serve_port = free_port(), free_port(), free_port()
    env = server_env(
        tmp_path / "data",
        PORT=str(web_port),
        WS_PORT=str(ws_port),
        WEB_CONCURRENCY="1",
        LOG_LEVEL="INFO",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    manage(env, "migrate", "-v0")
    created = json.loads(
        manage(env, "create_workspace", "Globex", "--admin-email", "ops@globex.test", "--admin-password", "x" * 20)
    )
    user_hash = hmac.new(created["identity_secret"].encode(), b"u-1", hashlib.sha256).hexdigest()
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "ws", "serve")}

    with ExitStack() as running:
        running.enter_context(halo_process(procfile_command("web"), env=env, log=logs["web"], port=web_port))
        running.enter_context(halo_process(procfile_command("ws"), env=env, log=logs["ws"], port=ws_port))
        serve = [*MANAGE, "serve", "--port", str(serve_port)]
        running.enter_context(halo_process(serve, env=env, log=logs["serve"], port=serve_port))

        web = f"http://127.0.0.1:{web_port}"
        started = httpx.post(
            f"{web}/api/widget/v1/conversations", json={"app_id": created["app_id"], "body": "Hello"}, timeout=30
        )
        assert started.status_code == 201, started.text
        conversation_id, token = started.json()["id"], started.json()["token"]

        http_uses(web, created["app_id"], conversation_id, token, user_hash)
        http_uses(f"http://127.0.0.1:{serve_port}", created["app_id"], conversation_id, token, user_hash)
        assert socket_sessions(ws_port, conversation_id, token) == [
            "frame accepted",
            "frame refused",
            "url accepted",
            "url refused",
        ]
        socket_sessions(serve_port, conversation_id, token)

    text: dict[str, Any] = {name: path.read_text() for name, path in logs.items()}
    for name, log in text.items():
        for secret in (token, WRONG_TOKEN, user_hash, created["api_key"], created["identity_secret"]):
            assert secret not in log, f"a secret is in the {name} process's log"
        assert "token=[redacted]" in log, f"the {name} process logged no request line with a token:\n{log[-2000:]}"
    for name in ("web", "serve"):  # the HTTP servers (ws serves sockets only)
        assert "user_hash=[redacted]" in text[name], name
    # The socket's request lines are logged, accepted and refused, with the token redacted.
    for name in ("ws", "serve"):
        assert f'"WebSocket /ws/widget/conversations/{conversation_id}/?token=[redacted]" [accepted]' in text[name]
        assert f'"WebSocket /ws/widget/conversations/{conversation_id}/?token=[redacted]" 403' in text[name]
        assert f'"WebSocket /ws/widget/conversations/{conversation_id}/" [accepted]' in text[name]  # first frame
    assert f"/api/widget/v1/conversations/{conversation_id}/messages?token=[redacted]&after=0" in text["web"]
