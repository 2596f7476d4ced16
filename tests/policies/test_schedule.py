"""Rotation schedule parsing and the longest gap between runs, checked against a brute-force walk."""

import calendar
import time
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checklist import schedule
from checklist.schedule import (
    ScheduleNotRecurringError,
    ScheduleSyntaxError,
    ScheduleTooIrregularError,
    describe,
    longest_gap,
    parse,
)

DAY = timedelta(days=1)


# --- brute force: every run as a datetime, stepping one day at a time over two 28-year cycles ------
# Two whole cycles from 2001 cover every gap of one cycle, the one that wraps into the next included,
# without assuming anything about periodicity: the cycle-1 -> cycle-2 gap is just another inner gap.

BRUTE_START = date(2001, 1, 1)
BRUTE_END = date(2057, 1, 1)


def brute_force_gap(day_matches, times=((0, 0),)) -> timedelta:
    runs = []
    day = BRUTE_START
    while day < BRUTE_END:
        if day_matches(day):
            runs.extend(datetime(day.year, day.month, day.day, h, m) for h, m in times)
        day += DAY
    runs.sort()
    return max(b - a for a, b in pairwise(runs))


def aws_weekday(day: date) -> int:
    return day.isoweekday() % 7 + 1  # SUN=1 .. SAT=7


# --- known schedules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("cron(0 0 1 1 ? *)", 366 * DAY),  # yearly: a leap year makes it 366
        ("cron(0 12 1 */3 ? *)", 92 * DAY),  # "quarterly": 1 Oct -> 1 Jan
        ("cron(0 12 1 * ? *)", 31 * DAY),
        ("cron(0 0 ? * MON *)", 7 * DAY),
        ("cron(0 0 ? * 2 *)", 7 * DAY),
        ("cron(0 10 * * ? *)", DAY),
        ("cron(0 6,18 * * ? *)", timedelta(hours=12)),
        ("cron(0/15 * * * ? *)", timedelta(minutes=15)),
        ("cron(0 8-17 ? * MON-FRI *)", timedelta(days=2, hours=15)),  # Fri 17:00 -> Mon 08:00
        ("cron(0 0 29 2 ? *)", 1461 * DAY),  # only in leap years
        ("cron(0 0 L * ? *)", 31 * DAY),
        ("cron(0 0 LW * ? *)", 33 * DAY),
        ("cron(0 0 15W * ? *)", 32 * DAY),
        ("cron(0 0 ? * 2#1 *)", 35 * DAY),
        ("cron(0 0 ? * 6L *)", 35 * DAY),
        ("cron(0 0 ? * L *)", 7 * DAY),  # L alone: Saturday
        ("cron(0 0 1 JAN,APR,JUL,OCT ? *)", 92 * DAY),
        ("cron(0 0 1 1-12/2 ? *)", 62 * DAY),
        ("cron(0 0 1 * ? */2)", 396 * DAY),  # every month of every other year
        ("cron(0 0 1 * ? 2025/1)", 31 * DAY),  # open-ended year step
        ("cron(0 0 1 * ? 2030-2199)", 31 * DAY),  # runs to AWS's last year: never stops
        ("CRON(0 0 1 * ? *)", 31 * DAY),
        ("rate(90 days)", 90 * DAY),
        ("rate(1 day)", DAY),
        ("rate(1 days)", DAY),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(30 minutes)", timedelta(minutes=30)),
        ("RATE(7 Days)", 7 * DAY),
        ("  rate( 5 days )  ", 5 * DAY),
    ],
)
def test_longest_gap_of_known_schedules(expression, gap):
    assert longest_gap(expression) == gap


def test_checklist_examples_against_90_days():
    limit = 90 * DAY
    assert longest_gap("cron(0 0 1 1 ? *)") > limit
    assert longest_gap("cron(0 12 1 */3 ? *)") > limit
    assert longest_gap("cron(0 12 1 * ? *)") <= limit
    assert longest_gap("cron(0 0 ? * MON *)") <= limit


@pytest.mark.parametrize(
    ("expression", "last_year"),
    [
        ("cron(0 0 1 1 ? 2025-2026)", 2026),
        ("cron(0 0 1 * ? 2030)", 2030),
        ("cron(0 0 1 * ? 2025,2027)", 2027),
    ],
)
def test_a_year_field_that_ends_is_not_recurring(expression, last_year):
    with pytest.raises(ScheduleNotRecurringError) as caught:
        longest_gap(expression)
    assert caught.value.last_year == last_year
    assert caught.value.expression == expression


@pytest.mark.parametrize(
    "expression", ["cron(0 0 30 2 ? *)", "cron(0 0 31 APR,JUN ? *)", "cron(0 0 31W 2 ? *)"]
)
def test_a_cron_that_never_fires_is_not_recurring(expression):
    with pytest.raises(ScheduleNotRecurringError, match="no date ever matches"):
        longest_gap(expression)


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("cron(60 0 1 * ? *)", "minutes"),
        ("cron(0 24 1 * ? *)", "hours"),
        ("cron(0 0 32 * ? *)", "day-of-month"),
        ("cron(0 0 1 13 ? *)", "month"),
        ("cron(0 0 1 FOO ? *)", "month"),
        ("cron(0 0 ? * 8 *)", "day-of-week"),
        ("cron(0 0 ? * 1/2 *)", "day-of-week"),  # AWS allows no '/' in day-of-week
        ("cron(0 0 ? * 2#1,3#2 *)", "day-of-week"),
        ("cron(0 0 ? * 2#6 *)", "day-of-week"),
        ("cron(0 0 1 * ? 1969)", "year"),
        ("cron(? 0 1 * ? *)", "minutes"),
        ("cron(0 0 * * * *)", "day-of-month"),  # neither day field is '?'
        ("cron(0 0 ? * ? *)", "day-of-month"),  # both are
        ("cron(0 0 20-10 * ? *)", "day-of-month"),
        ("cron(0/0 0 1 * ? *)", "minutes"),
        ("cron(0 0 1 * ?)", "cron"),
        ("cron(0 0 1 * ? * *)", "cron"),
        ("cron(0 0 1, * ? *)", "day-of-month"),
        ("rate(0 days)", "rate"),
        ("rate(-1 days)", "rate"),
        ("rate(1.5 days)", "rate"),
        ("rate(5 weeks)", "rate"),
        ("rate(days)", "rate"),
        ("at(2025-01-01T00:00:00)", "expression"),
        ("", "expression"),
        ("cron 0 0 1 * ? *", "expression"),
    ],
)
def test_syntax_errors_name_the_field(expression, field):
    with pytest.raises(ScheduleSyntaxError) as caught:
        longest_gap(expression)
    assert caught.value.field == field
    assert caught.value.expression == expression
    assert caught.value.detail


def test_parse_returns_data():
    rate = parse("rate(3 days)")
    assert isinstance(rate, schedule.Rate) and rate.every == 3 * DAY
    cron = parse("cron(5 1,13 1 * ? *)")
    assert isinstance(cron, schedule.Cron)
    assert cron.times == (65, 13 * 60 + 5)
    assert cron.months == frozenset(range(1, 13))


def test_year_steps_with_a_cycle_too_long_to_walk_are_refused():
    with pytest.raises(ScheduleTooIrregularError) as caught:
        longest_gap("cron(0 0 1 * ? */227,*/229)")
    assert caught.value.horizon_years > 10_000


def test_describe():
    assert describe(92 * DAY) == "92 days"
    assert describe(timedelta(days=1, hours=12)) == "1 day 12 hours"
    assert describe(timedelta(minutes=45)) == "45 minutes"
    assert describe(timedelta(0)) == "0 minutes"


def test_fast_enough_for_every_preview():
    expressions = [
        "cron(0/1 * * * ? *)",
        "cron(0 0 ? * MON-FRI *)",
        "cron(0 0 15W * ? *)",
        "cron(0 0 1 * ? */3)",
        "cron(0 0 ? * 2#1 *)",
        "cron(0 12 1 */3 ? *)",
    ]
    for expression in expressions:
        best = float("inf")
        for _ in range(3):
            longest_gap.cache_clear()
            parse.cache_clear()
            started = time.perf_counter()
            longest_gap(expression)
            best = min(best, time.perf_counter() - started)
        assert best < 0.02, f"{expression}: {best * 1000:.1f} ms"


# --- property tests ------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=1000), st.sampled_from(["day", "days", "DAYS", "Day"]))
def test_rate_days_is_n_days(n, unit):
    assert longest_gap(f"rate({n} {unit})") == n * DAY
    assert (longest_gap(f"rate({n} {unit})") <= 90 * DAY) == (n <= 90)


@given(
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from([("minute", timedelta(minutes=1)), ("hour", timedelta(hours=1))]),
    st.booleans(),
)
def test_rate_hours_and_minutes(n, unit, plural):
    name, size = unit
    assert longest_gap(f"rate({n} {name}{'s' if plural else ''})") == n * size


_DAYS = st.lists(st.integers(min_value=1, max_value=31), min_size=1, max_size=6, unique=True)
_MONTHS = st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=12, unique=True)
_TIMES = st.lists(
    st.tuples(st.integers(min_value=0, max_value=23), st.integers(min_value=0, max_value=59)),
    min_size=1,
    max_size=3,
    unique=True,
)


def _cron_times(times):
    # A cron field pair covers the cross product of hours and minutes; keep the brute force in step.
    hours = sorted({h for h, _ in times})
    minutes = sorted({m for _, m in times})
    return ",".join(map(str, minutes)), ",".join(map(str, hours)), [(h, m) for h in hours for m in minutes]


@settings(max_examples=40, deadline=None)
@given(_DAYS, _MONTHS, _TIMES)
def test_day_of_month_lists_match_brute_force(days, months, times):
    minutes, hours, pairs = _cron_times(times)
    expression = f"cron({minutes} {hours} {','.join(map(str, days))} {','.join(map(str, months))} ? *)"
    if not any(d <= calendar.mdays[m] + (m == 2) for d in days for m in months):
        with pytest.raises(ScheduleNotRecurringError):
            longest_gap(expression)
        return
    expected = brute_force_gap(lambda d: d.day in days and d.month in months, pairs)
    assert longest_gap(expression) == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=7, unique=True), _MONTHS, _TIMES)
def test_day_of_week_lists_match_brute_force(weekdays, months, times):
    minutes, hours, pairs = _cron_times(times)
    names = [schedule._WEEKDAYS[w - 1] for w in weekdays]
    expression = f"cron({minutes} {hours} ? {','.join(map(str, months))} {','.join(names)} *)"
    expected = brute_force_gap(lambda d: aws_weekday(d) in weekdays and d.month in months, pairs)
    assert longest_gap(expression) == expected


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=28), st.integers(min_value=1, max_value=12), st.integers(1, 12))
def test_monthly_steps_match_brute_force(day, start, step):
    expression = f"cron(0 12 {day} {start}/{step} ? *)"
    months = set(range(start, 13, step))
    expected = brute_force_gap(lambda d: d.day == day and d.month in months, [(12, 0)])
    assert longest_gap(expression) == expected


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=7), st.integers(min_value=1, max_value=5), _MONTHS)
def test_nth_weekday_matches_brute_force(weekday, nth, months):
    def matches(d: date) -> bool:
        weeks = [w[weekday - 1] for w in calendar.Calendar(firstweekday=6).monthdayscalendar(d.year, d.month)]
        occurrences = [x for x in weeks if x]
        return d.month in months and len(occurrences) >= nth and occurrences[nth - 1] == d.day

    expression = f"cron(0 0 ? {','.join(map(str, months))} {weekday}#{nth} *)"
    assert longest_gap(expression) == brute_force_gap(matches)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=7), _MONTHS)
def test_last_weekday_of_month_matches_brute_force(weekday, months):
    def matches(d: date) -> bool:
        return (
            d.month in months
            and aws_weekday(d) == weekday
            and d.day + 7 > calendar.monthrange(d.year, d.month)[1]
        )

    expression = f"cron(0 0 ? {','.join(map(str, months))} {weekday}L *)"
    assert longest_gap(expression) == brute_force_gap(matches)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=31), _MONTHS)
def test_nearest_weekday_matches_brute_force(target, months):
    def nearest(year: int, month: int) -> int | None:
        length = calendar.monthrange(year, month)[1]
        if target > length:
            return None
        candidates = [d for d in range(1, length + 1) if date(year, month, d).isoweekday() <= 5]
        # The weekday nearest the target without leaving the month: there is never a tie, since a
        # weekend target's other weekday neighbour is two days away.
        return min(candidates, key=lambda d: (abs(d - target), d))

    expression = f"cron(0 0 {target}W {','.join(map(str, months))} ? *)"
    if not any(target <= calendar.mdays[m] + (m == 2) for m in months):
        with pytest.raises(ScheduleNotRecurringError):
            longest_gap(expression)
        return
    expected = brute_force_gap(lambda d: d.month in months and nearest(d.year, d.month) == d.day)
    assert longest_gap(expression) == expected


def _last_weekday(d: date) -> bool:
    length = calendar.monthrange(d.year, d.month)[1]
    return d.day == max(x for x in range(1, length + 1) if date(d.year, d.month, x).isoweekday() <= 5)


@pytest.mark.parametrize(
    ("field", "matches"),
    [
        ("L", lambda d: d.day == calendar.monthrange(d.year, d.month)[1]),
        ("LW", _last_weekday),
        ("1,L", lambda d: d.day in (1, calendar.monthrange(d.year, d.month)[1])),
    ],
)
def test_last_day_forms_match_brute_force(field, matches):
    assert longest_gap(f"cron(0 0 {field} * ? *)") == brute_force_gap(matches)
