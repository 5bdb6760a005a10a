"""``halo.dateformats.ParsedDateFormat`` writes what ``django.utils.dateformat.format`` writes, for every format
character Django knows, escaped text, every time zone and the project's own formats."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import dateformat, translation
from django.utils.formats import get_format
from hypothesis import given
from hypothesis import strategies as st

from halo.dateformats import ParsedDateFormat

# Each character ``dateformat`` formats, and the formats the project's pages use (``DATETIME_FORMAT`` is a
# list row's title).
EVERY_CHARACTER = "aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTUuwWyYzZ"
PAGE_FORMATS = ["N j, Y, P", "M j, H:i", "M j, Y", "j M, H:i", "H:i", "Y-m-d", "c"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]

formats = st.one_of(
    st.sampled_from([EVERY_CHARACTER, *PAGE_FORMATS]),
    st.lists(st.sampled_from([*EVERY_CHARACTER, " ", ", ", "\\", "\\N", "\\\\", "at", "o'clock", "é"])).map("".join),
)
moments = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(2200, 12, 31),
    timezones=st.sampled_from(ZONES).map(ZoneInfo),
)


@given(formats, moments)
def test_a_parsed_format_writes_what_dateformat_writes(format_string: str, moment: dt.datetime) -> None:
    assert ParsedDateFormat(format_string).format(moment) == dateformat.format(moment, format_string)


@given(moments, st.sampled_from(["en-us", "de", "fr"]))
def test_the_row_title_format_is_written_in_the_active_language(moment: dt.datetime, language: str) -> None:
    with translation.override(language):
        title = get_format("DATETIME_FORMAT")
        assert ParsedDateFormat(title).format(moment) == dateformat.format(moment, title)


def test_noon_midnight_and_the_abbreviated_months_read_as_django_writes_them() -> None:
    parsed = ParsedDateFormat("N j, Y, P")
    utc = dt.UTC

    assert parsed.format(dt.datetime(2026, 12, 6, 0, 0, tzinfo=utc)) == "Dec. 6, 2026, midnight"
    assert parsed.format(dt.datetime(2026, 9, 1, 12, 0, tzinfo=utc)) == "Sept. 1, 2026, noon"
    assert parsed.format(dt.datetime(2026, 3, 5, 13, 7, tzinfo=utc)) == "March 5, 2026, 1:07 p.m."
