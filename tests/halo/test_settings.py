"""Settings in each mode, read in fresh interpreters with a controlled environment (settings are read once)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HALO_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "HALO_ENV",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "EMAIL_URL",
    "TRUSTED_PROXIES",
    "HALO_OUTBOUND_ALLOW_HOSTS",
    "HALO_SLACK_WEBHOOK_HOSTS",
)

PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "embedded_worker": settings.CELERY_EMBEDDED_WORKER,
    "debug": settings.DEBUG,
    "secret_key_length": len(settings.SECRET_KEY),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "time_zone": settings.TIME_ZONE,
    "use_tz": settings.USE_TZ,
}))
"""


def run_python(args: list[str], *, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in HALO_VARIABLES}
    clean.update({"DJANGO_SETTINGS_MODULE": "halo.settings", "HALO_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def probe(tmp_path: Path, **env: str) -> dict:
    result = run_python(["-c", PROBE], env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env(**extra: str) -> dict[str, str]:
    return {
        "HALO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "halo.example.com",
        **extra,
    }


@pytest.mark.slow
def test_no_environment_gives_the_embedded_defaults(tmp_path):
    values = probe(tmp_path)

    assert values["db_engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "data" / "halo.sqlite3")
    assert values["channel_layer"] == "halo.layers.EmbeddedChannelLayer"  # an InMemoryChannelLayer
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["broker"] == "memory://"
    assert values["embedded_worker"] is True
    assert values["debug"] is False
    assert (values["time_zone"], values["use_tz"]) == ("UTC", True)


@pytest.mark.slow
def test_embedded_secret_key_is_generated_once_per_data_directory(tmp_path):
    probe(tmp_path)
    key_file = tmp_path / "data" / "secret_key"
    first = key_file.read_text()

    probe(tmp_path)

    assert len(first.strip()) >= 50
    assert key_file.read_text() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_database_and_redis_urls_switch_to_postgres_and_redis(tmp_path):
    values = probe(tmp_path, DATABASE_URL="postgres://halo@127.0.0.1:5432/halo_x", REDIS_URL="redis://127.0.0.1:6379/7")

    assert values["db_engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "halo_x"
    assert (
        values["channel_layer"] == "halo.layers.RedisChannelLayer"
    )  # channels_redis, retried once on a dead connection
    assert values["cache"] == "halo.cache.RedisCache"
    assert values["broker"] == "redis://127.0.0.1:6379/7"
    assert values["embedded_worker"] is False


@pytest.mark.slow
def test_production_turns_on_secure_cookies_and_hsts(tmp_path):
    values = probe(tmp_path, **production_env())

    assert values["debug"] is False
    assert values["session_cookie_secure"] is True
    assert values["hsts"] >= 31536000


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY must be at least 50"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
    ],
)
def test_production_without_a_secret_key_or_hosts_fails_clearly(tmp_path, env, message):
    variables = production_env(**env)
    variables = {key: value for key, value in variables.items() if value != ""}

    result = run_python(["manage.py", "check"], env=variables, tmp_path=tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


@pytest.mark.slow
def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=production_env(), tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


OPERATOR_PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "trusted_proxies": settings.TRUSTED_PROXIES,
    "num_proxies": settings.REST_FRAMEWORK["NUM_PROXIES"],
    "outbound_allow_hosts": settings.HALO_OUTBOUND_ALLOW_HOSTS,
    "slack_webhook_hosts": settings.HALO_SLACK_WEBHOOK_HOSTS,
}))
"""


@pytest.mark.slow
def test_operator_settings_come_from_the_environment_with_safe_defaults(tmp_path):
    def read(**env: str) -> dict:
        result = run_python(["-c", OPERATOR_PROBE], env=env, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert read() == {
        "trusted_proxies": 0,
        "num_proxies": 0,
        "outbound_allow_hosts": [],
        "slack_webhook_hosts": ["hooks.slack.com"],
    }
    assert read(TRUSTED_PROXIES="2", HALO_OUTBOUND_ALLOW_HOSTS="searx.internal,10.0.0.5") == {
        "trusted_proxies": 2,
        "num_proxies": 2,
        "outbound_allow_hosts": ["searx.internal", "10.0.0.5"],
        "slack_webhook_hosts": ["hooks.slack.com"],
    }
    refused = run_python(["-c", OPERATOR_PROBE], env={"TRUSTED_PROXIES": "-1"}, tmp_path=tmp_path)
    assert refused.returncode != 0
    assert "TRUSTED_PROXIES is a count of proxies" in refused.stderr
