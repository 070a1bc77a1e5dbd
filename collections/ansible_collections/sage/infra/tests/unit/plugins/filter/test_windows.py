import pytest
from ansible_collections.sage.infra.plugins.module_utils.windows import overlap, window_errors


@pytest.mark.parametrize(
    ("daily", "weekly", "expected"),
    [
        ("03:00-04:00", "sun:04:30-sun:05:30", False),
        ("03:00-04:00", "sun:03:30-sun:05:30", True),
        ("03:00-04:00", "mon:02:00-mon:03:01", True),
        ("03:00-04:00", "mon:04:00-mon:05:00", False),
        ("23:30-00:30", "tue:00:00-tue:01:00", True),
        ("23:30-00:30", "sun:23:45-mon:00:15", True),
        ("05:00-06:00", "sun:23:00-mon:04:59", False),
    ],
)
def test_overlap(daily, weekly, expected):
    assert overlap(daily, weekly) is expected


@pytest.mark.parametrize(
    ("daily", "weekly", "expected"),
    [
        ("3:00-4:00", "sun:04:30-sun:05:30", "backup: '3:00-4:00' is not hh24:mi-hh24:mi"),
        ("03:00-03:10", "sun:04:30-sun:05:30", "backup: '03:00-03:10' is shorter than the 30 minutes"),
        ("03:00-04:00", "sunday:04:30-sun:05:30", "maint: 'sunday:04:30-sun:05:30' is not ddd:hh24:mi"),
        ("03:00-04:00", "sun:03:30-sun:05:30", "backup '03:00-04:00' overlaps maint 'sun:03:30-sun:05:30'"),
    ],
)
def test_errors_name_the_variable(daily, weekly, expected):
    errors = window_errors(daily, weekly, "backup", "maint")
    assert any(expected in e for e in errors), errors


def test_good_windows_have_no_errors():
    assert window_errors("03:00-04:00", "sun:04:30-sun:05:30", "a", "b") == []
