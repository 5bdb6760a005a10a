"""The Berlin office: the business hours the tests of due times and expected replies run against, and
``berlin(...)``, a time on Berlin's wall clock. Data only: the suite's ``office`` fixture (``tests/conftest.py``)
gives ``workspace`` these hours, and the pure tests of ``halo.hours`` read the same wall clock."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    """``datetime(*args)`` on Berlin's wall clock: summer or winter time, whichever holds on that date."""
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def berlin_office_hours() -> dict[str, Any]:
    """Monday to Friday 09:00-17:30 in Berlin; a first reply within two business hours, 30 minutes for
    priority. What ``halo.services.business_hours_set`` takes (a fresh dict: a test may change its copy)."""
    return {
        "timezone": "Europe/Berlin",
        "weekly": [{"day": day, "open": "09:00", "close": "17:30"} for day in range(5)],
        "first_reply_target_minutes": 120,
        "priority_first_reply_target_minutes": 30,
    }
