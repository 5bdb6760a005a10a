"""``manage.py serve``: embeds the worker only on the embedded defaults, and always stops what it started."""

import io

import pytest
from django.core.management import call_command

from halo.management.commands import serve


class FakeRuntime:
    instances: list["FakeRuntime"] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.events: list[str] = []
        FakeRuntime.instances.append(self)

    def start(self):
        self.events.append("start")

    def stop(self):
        self.events.append("stop")


@pytest.fixture
def fake_server(monkeypatch):
    FakeRuntime.instances.clear()
    runs: list[str] = []
    monkeypatch.setattr(serve, "EmbeddedRuntime", FakeRuntime)
    monkeypatch.setattr(serve.uvicorn.Server, "run", lambda self: runs.append(self.config.port))
    return runs


@pytest.mark.django_db
def test_embedded_defaults_start_the_worker_and_stop_it_after_the_server(fake_server, settings):
    settings.CELERY_EMBEDDED_WORKER = True
    out = io.StringIO()

    call_command("serve", "--port", "8123", stdout=out)

    assert fake_server == [8123]
    assert [runtime.events for runtime in FakeRuntime.instances] == [["start", "stop"]]
    assert "Halo is running at http://127.0.0.1:8123/" in out.getvalue()


@pytest.mark.django_db
def test_with_redis_the_worker_is_left_to_separate_processes(fake_server, settings):
    settings.CELERY_EMBEDDED_WORKER = False
    out = io.StringIO()

    call_command("serve", "--port", "8124", stdout=out)

    assert fake_server == [8124]
    assert FakeRuntime.instances == []
    assert "not embedded" in out.getvalue()


@pytest.mark.django_db
def test_the_worker_is_stopped_even_when_the_server_fails(monkeypatch, settings):
    FakeRuntime.instances.clear()
    settings.CELERY_EMBEDDED_WORKER = True
    monkeypatch.setattr(serve, "EmbeddedRuntime", FakeRuntime)

    def crash(self):
        raise OSError("address already in use")

    monkeypatch.setattr(serve.uvicorn.Server, "run", crash)

    with pytest.raises(OSError, match="address already in use"):
        call_command("serve", stdout=io.StringIO())

    assert FakeRuntime.instances[0].events == ["start", "stop"]
