"""Business hours per workspace: ``GET/PUT /api/v1/business-hours`` and the admin, refusing bad hours with
field errors and changing nothing then; a country's public holidays closing the schedule."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from halo.hours import is_open, next_opening
from halo.models import BusinessHours, Workspace
from halo.selectors import business_hours_get
from halo.services import business_hours_set
from tests.halo.factories import WorkspaceFactory

URL = "/api/v1/business-hours"
OFFICE: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "weekly": [{"day": day, "open": "09:00", "close": "17:30"} for day in range(5)],
    "holidays_country": "DE",
    "holidays": ["2026-12-24", "2026-12-31"],
    "first_reply_target_minutes": 120,
    "priority_first_reply_target_minutes": 30,
}


def test_a_new_workspace_is_open_around_the_clock(api: APIClient, workspace: Workspace) -> None:
    body = api.get(URL).json()
    assert body["timezone"] == workspace.timezone
    assert body["weekly"] == [{"day": day, "open": "00:00", "close": "24:00"} for day in range(7)]
    assert body["holidays_country"] is None
    assert body["holidays"] == []
    assert body["first_reply_target_minutes"] == 120
    assert body["priority_first_reply_target_minutes"] == 30


def test_put_sets_hours_and_the_workspace_time_zone(api: APIClient, workspace: Workspace) -> None:
    response = api.put(URL, OFFICE, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == OFFICE
    assert api.get(URL).json() == OFFICE
    workspace.refresh_from_db()
    assert workspace.timezone == "Europe/Berlin"


def test_fields_left_out_keep_their_values(api: APIClient) -> None:
    api.put(URL, OFFICE, format="json")
    response = api.put(URL, {"first_reply_target_minutes": 60}, format="json")
    assert response.json() == {**OFFICE, "first_reply_target_minutes": 60}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"weekly": [{"day": 0, "open": "17:00", "close": "09:00"}]}, "weekly", "after the opening time"),
        ({"weekly": [{"day": 0, "open": "09:00", "close": "09:00"}]}, "weekly", "after the opening time"),
        (
            {"weekly": [{"day": 2, "open": "09:00", "close": "13:00"}, {"day": 2, "open": "12:00", "close": "18:00"}]},
            "weekly",
            "Wednesday: 09:00-13:00 overlaps 12:00-18:00",
        ),
        ({"weekly": [{"day": 0, "open": "9am", "close": "17:00"}]}, "weekly", "HH:MM"),
        ({"weekly": [{"day": 7, "open": "09:00", "close": "17:00"}]}, "weekly", "0 (Monday) to 6 (Sunday)"),
        ({"weekly": []}, "weekly", "at least one opening period"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "not a known time zone"),
        ({"holidays_country": "XX"}, "holidays_country", "not a country"),
        ({"holidays": ["2026-02-30"]}, "holidays", "not a date"),
        ({"first_reply_target_minutes": 0}, "first_reply_target_minutes", "From 1"),
        ({"priority_first_reply_target_minutes": "30"}, "priority_first_reply_target_minutes", "whole number"),
        ({"opening_hours": []}, "opening_hours", "Unknown field"),
    ],
)
def test_bad_hours_are_refused_with_field_errors_and_change_nothing(
    api: APIClient, workspace: Workspace, change: dict[str, Any], field: str, words: str
) -> None:
    api.put(URL, OFFICE, format="json")
    response = api.put(URL, {**OFFICE, **change}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert any(words in message for message in body["fields"][field]), body
    assert api.get(URL).json() == OFFICE


def test_every_problem_is_reported_at_once(api: APIClient) -> None:
    response = api.put(URL, {"timezone": "Mars/Olympus", "holidays_country": "ZZ", "holidays": ["soon"]}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"timezone", "holidays_country", "holidays"}


def test_a_body_that_is_not_an_object_is_a_400(api: APIClient) -> None:
    response = api.put(URL, [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_each_workspace_has_its_own_hours(api: APIClient, workspace: Workspace) -> None:
    other = WorkspaceFactory(name="Globex", slug="globex", timezone="Asia/Tokyo")
    business_hours_set(workspace=other, data={"weekly": [{"day": 0, "open": "10:00", "close": "11:00"}]})
    api.put(URL, OFFICE, format="json")
    assert business_hours_get(workspace=other).weekly == [{"day": 0, "open": "10:00", "close": "11:00"}]
    assert business_hours_get(workspace=other).timezone == "Asia/Tokyo"
    assert BusinessHours.objects.get(workspace=workspace).holidays_country == "DE"


def test_a_countrys_public_holidays_are_closed(workspace: Workspace) -> None:
    business_hours_set(workspace=workspace, data=OFFICE)
    schedule = business_hours_get(workspace=workspace).schedule(around=datetime(2026, 12, 20, tzinfo=UTC))
    # Christmas Day and Boxing Day are public holidays in Germany; 24 and 31 December are custom dates.
    assert date(2026, 12, 25) in schedule.closed_dates
    assert date(2026, 12, 24) in schedule.closed_dates
    assert not is_open(schedule, datetime(2026, 12, 25, 10, tzinfo=UTC))
    # Wednesday 23 December after hours: back on Monday 28 December, 09:00 Berlin (08:00 UTC).
    assert next_opening(schedule, datetime(2026, 12, 23, 18, tzinfo=UTC)) == datetime(2026, 12, 28, 8, tzinfo=UTC)
    # Easter Monday 2027 (29 March), from the same country, two years are known ahead.
    assert date(2027, 3, 29) in schedule.closed_dates


def test_the_admin_edits_hours_as_lines_per_day(admin_client_of: Client, workspace: Workspace) -> None:
    form = {
        "workspace": workspace.pk,
        "timezone": "Europe/Berlin",
        **{f"day_{day}": "09:00-12:00, 13:00-17:30" for day in range(5)},
        "day_5": "",
        "day_6": "",
        "holidays_country": "DE",
        "holidays_text": "2026-12-24\n2026-12-31",
        "first_reply_target_minutes": "120",
        "priority_first_reply_target_minutes": "30",
    }
    response = admin_client_of.post("/admin/halo/businesshours/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    settings = business_hours_get(workspace=Workspace.objects.get(pk=workspace.pk))
    assert settings.timezone == "Europe/Berlin"
    assert {"day": 0, "open": "13:00", "close": "17:30"} in settings.weekly
    assert settings.holidays == ["2026-12-24", "2026-12-31"]


def test_the_admin_shows_each_problem_on_its_field(admin_client_of: Client, workspace: Workspace) -> None:
    form = {
        "workspace": workspace.pk,
        "timezone": "Nowhere/Town",
        "day_0": "17:00-09:00",
        "day_2": "09:00-13:00, 12:00-18:00",
        "holidays_country": "XX",
        "holidays_text": "",
        "first_reply_target_minutes": "120",
        "priority_first_reply_target_minutes": "30",
    }
    response = admin_client_of.post("/admin/halo/businesshours/add/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "not a known time zone" in errors["timezone"][0]
    assert "after the opening time" in errors["day_0"][0]
    assert "overlaps" in errors["day_2"][0]
    assert "not a country" in errors["holidays_country"][0]
    assert not BusinessHours.objects.filter(workspace=workspace).exists()


def test_a_workspace_admin_never_sees_another_workspaces_hours(admin_client_of: Client, workspace: Workspace) -> None:
    other = WorkspaceFactory(name="Globex", slug="globex")
    theirs = business_hours_set(workspace=other, data={"weekly": [{"day": 0, "open": "10:00", "close": "11:00"}]})
    listing = admin_client_of.get("/admin/halo/businesshours/")
    assert listing.status_code == 200
    assert "Globex" not in listing.content.decode()
    response = admin_client_of.get(f"/admin/halo/businesshours/{theirs.pk}/change/")
    assert response.status_code in (302, 404)
    assert "Globex" not in response.content.decode()
