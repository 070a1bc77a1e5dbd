# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS backup/snapshot windows (daily, ``hh24:mi-hh24:mi``) and maintenance windows (weekly,
``ddd:hh24:mi-ddd:hh24:mi``), all UTC: parse them and tell whether they overlap."""

from __future__ import annotations

import re

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 24 * 60
_DAILY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_WEEKLY = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$"
)


def _intervals(start, end, period):
    """[start, end) on a circle of `period` minutes, as one or two plain intervals."""
    return [(start, end)] if start < end else [(start, period), (0, end)]


def daily_intervals(window):
    """The weekly minute intervals a daily window covers; ValueError if malformed or shorter than 30 min."""
    match = _DAILY.match(str(window))
    if not match:
        raise ValueError(f"'{window}' is not hh24:mi-hh24:mi (UTC)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if (end - start) % (24 * 60) < 30:
        raise ValueError(f"'{window}' is shorter than the 30 minutes AWS requires")
    return [(day * 1440 + a, day * 1440 + b) for day in range(7) for a, b in _intervals(start, end, 1440)]


def weekly_intervals(window):
    """The minute intervals of the week a weekly window covers; ValueError if malformed or too short."""
    match = _WEEKLY.match(str(window).lower())
    if not match:
        raise ValueError(f"'{window}' is not ddd:hh24:mi-ddd:hh24:mi (UTC)")
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = DAYS.index(d1) * 1440 + int(h1) * 60 + int(m1)
    end = DAYS.index(d2) * 1440 + int(h2) * 60 + int(m2)
    if (end - start) % WEEK < 30:
        raise ValueError(f"'{window}' is shorter than the 30 minutes AWS requires")
    return _intervals(start, end, WEEK)


def overlap(daily_window, weekly_window):
    """True if the daily window, on any day, overlaps the weekly window."""
    return any(a < d and c < b for a, b in daily_intervals(daily_window) for c, d in weekly_intervals(weekly_window))


def window_errors(daily_window, weekly_window, daily_var, weekly_var):
    """Messages naming the variable at fault; [] when both are well-formed and do not overlap."""
    errors = []
    for var, window, parse in (
        (daily_var, daily_window, daily_intervals),
        (weekly_var, weekly_window, weekly_intervals),
    ):
        try:
            parse(window)
        except ValueError as exc:
            errors.append(f"{var}: {exc}")
    if not errors and overlap(daily_window, weekly_window):
        errors.append(f"{daily_var} '{daily_window}' overlaps {weekly_var} '{weekly_window}'; AWS requires them apart")
    return errors
