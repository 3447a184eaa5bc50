from datetime import UTC, datetime, timedelta, timezone

import pytest

from arcsec_flask.domain.ids import iso_utc


@pytest.mark.parametrize(
    "instant, text",
    [
        (datetime(2024, 3, 1, 21, 0, tzinfo=UTC), "2024-03-01T21:00:00.000000Z"),
        (datetime(2024, 3, 1, 21, 0, 0, 5, tzinfo=UTC), "2024-03-01T21:00:00.000005Z"),
        (
            datetime(2024, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=3))),
            "2024-03-01T21:30:00.000000Z",
        ),
        (datetime(1, 1, 10, tzinfo=UTC), "0001-01-10T00:00:00.000000Z"),
        (datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC), "0999-12-31T23:59:59.000000Z"),
        (datetime(9999, 12, 25, tzinfo=UTC), "9999-12-25T00:00:00.000000Z"),
    ],
)
def test_iso_utc_writes_four_digit_years_and_a_z(instant, text):
    assert iso_utc(instant) == text
    assert datetime.fromisoformat(text) == instant
