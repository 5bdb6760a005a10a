"""Brute force on the login pages and the password reset (security bar S8).

django-axes locks an account after ``AXES_FAILURE_LIMIT`` (5) wrong passwords, and separately the client
address that sent them, for ``AXES_COOLOFF_TIME``; the locked page says so and how to get back in; deleting
the access attempts in the admin unlocks at once. Password-reset mails are throttled per client address and
per email asked for. Every case runs against the real views through Django's test client.
"""

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from tests.halo.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture
def maya() -> User:
    user: User = UserFactory(username="maya@acme.test", email="maya@acme.test", password=PASSWORD, is_staff=True)
    return user


def login(client: Client, page: str, username: str, password: str, address: str = "192.0.2.1") -> Any:
    return client.post(page, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_forty_wrong_passwords_lock_the_account_with_a_clear_message(maya: User, page: str) -> None:
    client = Client()
    statuses = [login(client, page, "maya@acme.test", f"guess-{n}").status_code for n in range(40)]

    assert statuses[:4] == [200] * 4  # the form again, "wrong password"
    assert statuses[4:] == [429] * 36
    locked = login(client, page, "maya@acme.test", PASSWORD)  # even the right password, while locked
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed logins" in text
    assert "after 5 wrong passwords" in text
    assert "Try again in 30 minutes" in text
    assert "Reset your password" in text
    assert "_auth_user_id" not in client.session


def test_the_account_stays_locked_from_any_address_and_in_any_case(maya: User) -> None:
    client = Client()
    for n in range(5):
        login(client, "/accounts/login/", "maya@acme.test", "wrong", address=f"198.51.100.{n}")
    for spelling in ("maya@acme.test", "Maya@ACME.test", "  maya@acme.test "):
        response = login(client, "/accounts/login/", spelling, PASSWORD, address="203.0.113.77")
        assert response.status_code == 429, spelling
    assert login(client, "/admin/login/", "MAYA@acme.test", PASSWORD, address="203.0.113.78").status_code == 429


def test_an_address_trying_many_accounts_is_locked_and_others_are_not(maya: User) -> None:
    client = Client()
    for n in range(5):
        login(client, "/accounts/login/", f"someone{n}@acme.test", "wrong", address="192.0.2.66")

    assert login(client, "/accounts/login/", "maya@acme.test", PASSWORD, address="192.0.2.66").status_code == 429
    elsewhere = login(Client(), "/accounts/login/", "maya@acme.test", PASSWORD, address="192.0.2.67")
    assert elsewhere.status_code == 302  # Maya, from her own address, is not locked out by someone else


def test_rotating_x_forwarded_for_does_not_escape_the_address_lock(maya: User) -> None:
    client = Client()
    for n in range(12):
        client.post(
            "/accounts/login/",
            {"username": f"someone{n}@acme.test", "password": "wrong"},
            REMOTE_ADDR="192.0.2.66",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    response = login(client, "/accounts/login/", "maya@acme.test", PASSWORD, address="192.0.2.66")
    assert response.status_code == 429


def test_a_successful_login_clears_the_accounts_count(maya: User) -> None:
    for _ in range(4):
        login(Client(), "/accounts/login/", "maya@acme.test", "wrong")
    assert login(Client(), "/accounts/login/", "maya@acme.test", PASSWORD).status_code == 302
    for _ in range(4):
        assert login(Client(), "/accounts/login/", "maya@acme.test", "wrong").status_code == 200


def test_a_superuser_unlocks_from_the_admin(maya: User) -> None:
    for _ in range(5):
        login(Client(), "/accounts/login/", "maya@acme.test", "wrong")
    assert login(Client(), "/accounts/login/", "maya@acme.test", PASSWORD).status_code == 429

    root = Client()
    root.force_login(UserFactory(username="root@halo.test", is_staff=True, is_superuser=True))
    listing = root.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "maya@acme.test" in listing.content.decode()
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    confirm = root.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert confirm.status_code == 302
    assert not AccessAttempt.objects.exists()

    assert login(Client(), "/accounts/login/", "maya@acme.test", PASSWORD).status_code == 302


def test_workspace_admins_do_not_see_other_peoples_attempts(maya: User, admin_client_of: Client) -> None:
    login(Client(), "/accounts/login/", "maya@acme.test", "wrong")
    assert admin_client_of.get("/admin/axes/accessattempt/").status_code == 403


# --- Password reset -----------------------------------------------------------------------------------


def reset(client: Client, email: str, address: str = "192.0.2.1", **headers: str) -> Any:
    return client.post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address, **headers)


def test_reset_mails_for_one_account_are_throttled(maya: User) -> None:
    client = Client()
    statuses = [reset(client, "maya@acme.test", address=f"198.51.100.{n}").status_code for n in range(6)]

    assert statuses == [302, 302, 302, 429, 429, 429]
    assert len(mail.outbox) == 3
    refused = reset(client, "MAYA@acme.test", address="198.51.100.99")
    assert refused.status_code == 429
    assert "Too many password reset requests" in refused.content.decode()
    assert len(mail.outbox) == 3


def test_reset_requests_from_one_address_are_throttled_whatever_the_email(maya: User) -> None:
    client = Client()
    statuses = [
        reset(client, f"person{n}@acme.test", address="192.0.2.9", HTTP_X_FORWARDED_FOR=f"10.1.0.{n}").status_code
        for n in range(12)
    ]
    assert statuses == [302] * 10 + [429] * 2
    assert reset(client, "maya@acme.test", address="192.0.2.9").status_code == 429
    assert len(mail.outbox) == 0  # none of those emails had an account
    assert reset(client, "maya@acme.test", address="192.0.2.10").status_code == 302
    assert len(mail.outbox) == 1


def test_the_throttle_tells_nothing_about_which_emails_have_accounts(maya: User) -> None:
    client = Client()
    for email in ("maya@acme.test", "nobody@acme.test"):
        statuses = [reset(client, email, address=f"198.51.100.{n}").status_code for n in range(4)]
        assert statuses == [302, 302, 302, 429], email
