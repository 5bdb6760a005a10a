"""The one integer parser for ids and counts from requests: ASCII digits only, range-checked."""

from hypothesis import given
from hypothesis import strategies as st

from halo.params import MAX_ID, parse_id, parse_int


@given(value=st.integers(min_value=0, max_value=MAX_ID))
def test_ascii_digits_in_range_are_read(value: int) -> None:
    assert parse_int(str(value)) == value
    assert parse_int(value) == value


@given(text=st.text(min_size=1, max_size=25))
def test_anything_but_ascii_digits_is_refused(text: str) -> None:
    parsed = parse_int(text)
    if not (text.isascii() and text.isdigit()):
        assert parsed is None
    else:
        assert parsed is None or parsed == int(text)


def test_unicode_digits_signs_bools_floats_and_overflow_are_refused() -> None:
    for raw in ["²", "١٢", "\U0001d7d9", "-1", "+1", " 1", "1.0", "", True, False, 1.0, None, "9" * 23, MAX_ID + 1]:
        assert parse_int(raw) is None, raw
    assert parse_int(str(MAX_ID)) == MAX_ID


def test_an_id_is_positive() -> None:
    assert parse_id("0") is None
    assert parse_id("1") == 1
    assert parse_int("5", minimum=1, maximum=4) is None
