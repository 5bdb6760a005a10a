"""The staff login page: renders on its own, and takes the email in any case."""

import pytest

from tests.halo.factories import UserFactory


@pytest.mark.django_db
def test_login_page_renders_a_form_with_csrf(client):
    response = client.get("/accounts/login/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Log in to Halo" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'type="password"' in page


@pytest.mark.django_db
def test_staff_log_in_with_their_email_in_any_case(client):
    UserFactory(username="maya@acme.test", password="correct horse battery staple")

    response = client.post(
        "/accounts/login/", {"username": "  Maya@ACME.test ", "password": "correct horse battery staple"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"


@pytest.mark.django_db
def test_a_wrong_password_shows_an_error_and_keeps_the_email(client):
    UserFactory(username="maya@acme.test")

    response = client.post("/accounts/login/", {"username": "maya@acme.test", "password": "wrong"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Please enter a correct username and password" in page
    assert 'value="maya@acme.test"' in page
