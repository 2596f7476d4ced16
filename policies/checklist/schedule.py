"""Secrets Manager rotation schedules: parse `rate()` and `cron()` expressions, find the longest gap.

A cron schedule is only as good as the longest time it leaves a key unrotated, so the rotation rule
compares that gap, not the typical one, with the checklist's 90 days: `cron(0 12 1 */3 ? *)` looks
quarterly but leaves 92 days between 1 October and 1 January.

Syntax follows AWS's cron reference (the same grammar EventBridge uses): six fields
`minutes hours day-of-month month day-of-week year`; `, - * /` everywhere except `/` in
day-of-week; `?` in exactly one of the two day fields; `L` and `W` in day-of-month
(`L`, `LW`, `15W`); `L` and `#` in day-of-week (`L` = Saturday, `6L` = last Friday,
`2#1` = first Monday); day-of-week 1 = SUN … 7 = SAT. Ranges must ascend.

How the gap is found. Hours and minutes give the same times on every matching day, so the
longest gap is the larger of the longest gap inside one day and the longest gap between two
consecutive matching days (less the span of the day's times). Matching days are found month by
month: which days of a month match depends only on the month, whether the year is a leap year and
the weekday of the 1st, so each of those (at most 168) combinations is evaluated once. The
Gregorian calendar repeats every 28 years from 1901 to 2099; the horizon is one such cycle from
2001 (or the least common multiple of 28 and the year field's step), and the gap that wraps from
the end of the horizon to its start is counted too. That makes the result exact for every schedule
within 1901-2099, and cheap per expression for ordinary crons.

A year field that stops (`2025-2026`, `2030`) is not a rotation schedule: it is reported as
`ScheduleNotRecurringError`, as is a cron that never fires (`cron(0 0 30 2 ? *)`). Explicit years
next to an open-ended part (`2024,2026/2`) add runs in single years only and are ignored.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise

MINUTE = timedelta(minutes=1)

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS numbers them 1..7
_MIN_YEAR, _MAX_YEAR = 1970, 2199  # AWS's year range; a range ending at 2199 never stops
_CYCLE_START = 2001
_CYCLE_YEARS = 28
_CYCLE_DAYS = 10227  # 28 years of 365.25 days = 1461 whole weeks: dates and weekdays repeat
_MAX_HORIZON_YEARS = 10_000  # keeps pathological year steps (`*/227,*/229`) from running long


class ScheduleError(ValueError):
    """A schedule expression that cannot be verified as a recurring rotation schedule."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"{expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


class ScheduleSyntaxError(ScheduleError):
    """Not a valid `rate()`/`cron()` expression; `field` names the part at fault."""

    def __init__(self, expression: str, field: str, reason: str) -> None:
        super().__init__(expression, f"{field}: {reason}")
        self.field = field
        self.detail = reason


class ScheduleNotRecurringError(ScheduleError):
    """Valid, but runs a finite number of times (a bounded year field) or never."""

    def __init__(self, expression: str, reason: str, last_year: int | None = None) -> None:
        super().__init__(expression, reason)
        self.last_year = last_year


class ScheduleTooIrregularError(ScheduleError):
    """Year steps whose combined cycle is too long to walk (thousands of years)."""

    def __init__(self, expression: str, horizon_years: int) -> None:
        super().__init__(expression, f"its year steps repeat only every {horizon_years} years")
        self.horizon_years = horizon_years


# --- rate() ---------------------------------------------------------------------------------------

_RATE = re.compile(r"rate\(\s*(?P<n>\S+)\s+(?P<unit>[A-Za-z]+)\s*\)", re.IGNORECASE)
_NUMBER = re.compile(r"[0-9]+")
_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class Rate:
    expression: str
    every: timedelta


def _parse_rate(expression: str, body: str) -> Rate:
    match = _RATE.fullmatch(body)
    if not match:
        raise ScheduleSyntaxError(expression, "rate", "expected rate(<number> minutes|hours|days)")
    unit = match["unit"].lower()
    # AWS wants `1 day` but `2 days`; the unit's number agreement changes nothing about the interval.
    unit = unit[:-1] if unit.endswith("s") else unit
    if unit not in _RATE_UNITS:
        raise ScheduleSyntaxError(expression, "rate", f"unit {match['unit']!r} is not minutes, hours or days")
    if not _NUMBER.fullmatch(match["n"]) or int(match["n"]) < 1:
        raise ScheduleSyntaxError(expression, "rate", f"{match['n']!r} is not a positive whole number")
    return Rate(expression, int(match["n"]) * _RATE_UNITS[unit])


# --- cron() fields --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # symbolic values, numbered from `low`
    step_allowed: bool = True


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _WEEKDAYS, step_allowed=False)
_YEAR = _Field("year", _MIN_YEAR, _MAX_YEAR)


class _FieldError(Exception):
    """Raised inside field parsing; turned into ScheduleSyntaxError with the expression attached."""

    def __init__(self, field: _Field, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _value(field: _Field, text: str) -> int:
    upper = text.upper()
    if upper in field.names:
        return field.low + field.names.index(upper)
    if not _NUMBER.fullmatch(text):
        raise _FieldError(field, f"{text!r} is not a number" + (" or name" if field.names else ""))
    number = int(text)
    if not field.low <= number <= field.high:
        raise _FieldError(field, f"{number} is outside {field.low}-{field.high}")
    return number


@dataclass(frozen=True)
class _Part:
    """One comma-separated item of a numeric field: `start[-end][/step]`, `*` and `*/step` included."""

    start: int
    end: int
    step: int
    open_ended: bool  # `*`, `a/n` or a range up to the field's maximum: never stops (years)

    def values(self) -> range:
        return range(self.start, self.end + 1, self.step)


def _part(field: _Field, text: str) -> _Part:
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not field.step_allowed:
            raise _FieldError(field, "'/' is not allowed in this field")
        if not _NUMBER.fullmatch(step_text) or int(step_text) < 1:
            raise _FieldError(field, f"step {step_text!r} is not a positive whole number")
        step = int(step_text)
    if base == "*":
        return _Part(field.low, field.high, step, True)
    first, dash, last = base.partition("-")
    start = _value(field, first)
    if dash:
        end = _value(field, last)
        if end < start:
            raise _FieldError(field, f"range {base!r} runs backwards")
    else:
        end = field.high if slash else start  # `a/n` counts up to the field's end
    return _Part(start, end, step, end == field.high and bool(dash or slash))


def _numeric(field: _Field, text: str) -> tuple[_Part, ...]:
    if not text:
        raise _FieldError(field, "empty")
    return tuple(_part(field, item) for item in text.split(","))


def _values(parts: tuple[_Part, ...]) -> frozenset[int]:
    return frozenset(v for p in parts for v in p.values())


# --- cron() day fields ----------------------------------------------------------------------------
# A day matcher answers, for one month, which of its days match: (days in month, weekday of the 1st
# as AWS numbers it) -> days. Weekday of day d is then (first - 1 + d - 1) % 7 + 1.

DayMatcher = Callable[[int, int], Iterator[int]]


def _weekday(first: int, day: int) -> int:
    return (first + day - 2) % 7 + 1


def _days_in(values: frozenset[int]) -> DayMatcher:
    return lambda length, first: (d for d in values if d <= length)


def _last_day() -> DayMatcher:
    return lambda length, first: iter((length,))


def _nearest_weekday(target: int) -> DayMatcher:
    # Quartz's rule, which AWS follows: the weekday nearest the target without leaving the month.
    def match(length: int, first: int) -> Iterator[int]:
        if target > length:
            return
        weekday = _weekday(first, target)
        if weekday == 7:  # Saturday
            yield target + 2 if target == 1 else target - 1
        elif weekday == 1:  # Sunday
            yield target - 2 if target == length else target + 1
        else:
            yield target

    return match


def _last_weekday_of_month() -> DayMatcher:
    def match(length: int, first: int) -> Iterator[int]:
        weekday = _weekday(first, length)
        yield length - {7: 1, 1: 2}.get(weekday, 0)

    return match


def _weekdays(values: frozenset[int]) -> DayMatcher:
    return lambda length, first: (d for d in range(1, length + 1) if _weekday(first, d) in values)


def _last_of_weekday(weekday: int) -> DayMatcher:
    return lambda length, first: iter((length - (_weekday(first, length) - weekday) % 7,))


def _nth_weekday(weekday: int, nth: int) -> DayMatcher:
    def match(length: int, first: int) -> Iterator[int]:
        day = 1 + (weekday - first) % 7 + 7 * (nth - 1)
        if day <= length:
            yield day

    return match


def _day_of_month(text: str) -> tuple[DayMatcher, ...]:
    field = _DAY_OF_MONTH
    matchers: list[DayMatcher] = []
    plain: list[str] = []
    for item in text.split(","):
        upper = item.upper()
        if upper == "L":
            matchers.append(_last_day())
        elif upper == "LW":
            matchers.append(_last_weekday_of_month())
        elif upper.endswith("W"):
            matchers.append(_nearest_weekday(_value(field, item[:-1])))
        else:
            plain.append(item)
    if plain:
        matchers.append(_days_in(_values(_numeric(field, ",".join(plain)))))
    return tuple(matchers)


def _day_of_week(text: str) -> tuple[DayMatcher, ...]:
    field = _DAY_OF_WEEK
    items = text.split(",")
    if "#" in text and len(items) > 1:
        raise _FieldError(field, "'#' must be the field's only item")
    matchers: list[DayMatcher] = []
    plain: list[str] = []
    for item in items:
        upper = item.upper()
        if "#" in upper:
            weekday_text, _, nth_text = upper.partition("#")
            if not _NUMBER.fullmatch(nth_text) or not 1 <= int(nth_text) <= 5:
                raise _FieldError(field, f"{item!r}: the occurrence after '#' must be 1-5")
            matchers.append(_nth_weekday(_value(field, weekday_text), int(nth_text)))
        elif upper == "L":
            plain.append("7")  # AWS: the last day of the week, Saturday
        elif upper.endswith("L"):
            matchers.append(_last_of_weekday(_value(field, upper[:-1])))
        else:
            plain.append(item)
    if plain:
        matchers.append(_weekdays(_values(_numeric(field, ",".join(plain)))))
    return tuple(matchers)


# --- cron() ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cron:
    expression: str
    times: tuple[int, ...]  # minutes after midnight, ascending
    months: frozenset[int]
    days: tuple[DayMatcher, ...]
    years: tuple[_Part, ...]  # the open-ended parts of the year field only

    def month_days(self, month: int, leap: bool, first: int) -> tuple[int, ...]:
        """The days of a month that match; `first` is the weekday of the 1st (1 = Sunday)."""
        length = calendar.mdays[month] + (1 if month == 2 and leap else 0)
        return tuple(sorted({d for matcher in self.days for d in matcher(length, first)}))


def _parse_cron(expression: str, body: str) -> Cron:
    inner = body[len("cron(") : -1].split()
    if len(inner) != 6:
        raise ScheduleSyntaxError(expression, "cron", f"expected 6 fields, found {len(inner)}")
    minutes, hours, dom, month, dow, year = inner
    try:
        if (dom == "?") == (dow == "?"):
            raise _FieldError(_DAY_OF_MONTH, "exactly one of day-of-month and day-of-week must be '?'")
        for field, text in ((_MINUTES, minutes), (_HOURS, hours), (_MONTH, month), (_YEAR, year)):
            if text == "?":
                raise _FieldError(field, "'?' is only allowed in the day fields")
        times = tuple(
            sorted(
                h * 60 + m
                for h in _values(_numeric(_HOURS, hours))
                for m in _values(_numeric(_MINUTES, minutes))
            )
        )
        months = _values(_numeric(_MONTH, month))
        days = _day_of_month(dom) if dow == "?" else _day_of_week(dow)
        year_parts = _numeric(_YEAR, year)
    except _FieldError as err:
        raise ScheduleSyntaxError(expression, err.field.name, err.reason) from None
    open_years = tuple(p for p in year_parts if p.open_ended)
    if not open_years:
        last = max(max(p.values()) for p in year_parts)
        raise ScheduleNotRecurringError(expression, f"the year field stops after {last}", last)
    return Cron(expression, times, months, days, open_years)


Schedule = Rate | Cron


@lru_cache(maxsize=1024)
def parse(expression: str) -> Schedule:
    """A `rate()` or `cron()` expression as data; raises a `ScheduleError` subclass."""
    body = expression.strip()
    lowered = body.lower()
    if lowered.startswith("rate(") and body.endswith(")"):
        return _parse_rate(expression, body)
    if lowered.startswith("cron(") and body.endswith(")"):
        return _parse_cron(expression, body)
    raise ScheduleSyntaxError(expression, "expression", "expected rate(...) or cron(...)")


# --- the longest gap ------------------------------------------------------------------------------


def _year_runs(parts: tuple[_Part, ...], year: int) -> bool:
    # Each open-ended part is extended backwards too: only the repeating pattern matters.
    return any((year - p.start) % p.step == 0 for p in parts)


def _horizon_years(parts: tuple[_Part, ...]) -> int:
    steps = math.lcm(*(p.step for p in parts))
    return math.lcm(_CYCLE_YEARS, steps)


_CYCLE_ORIGIN = date(_CYCLE_START, 1, 1).toordinal()


def matching_days(cron: Cron) -> tuple[list[int], int]:
    """Day numbers (0 = 1 January 2001) the cron fires on over its horizon, and the horizon in days.

    Years beyond the 28-year cycle reuse its calendar, which is the real one from 1901 to 2099.
    """
    horizon = _horizon_years(cron.years)
    if horizon > _MAX_HORIZON_YEARS:
        raise ScheduleTooIrregularError(cron.expression, horizon)
    # Which days of a month match depends only on the month, leap year or not, and the weekday of
    # the 1st: at most 168 combinations, each worked out once.
    per_month: dict[tuple[int, bool, int], tuple[int, ...]] = {}
    months = sorted(cron.months)
    days: list[int] = []
    for year in range(_CYCLE_START, _CYCLE_START + horizon):
        if not _year_runs(cron.years, year):
            continue
        cycle, index = divmod(year - _CYCLE_START, _CYCLE_YEARS)
        calendar_year = _CYCLE_START + index
        leap = calendar.isleap(calendar_year)
        for month in months:
            first = date(calendar_year, month, 1)
            first_weekday = first.isoweekday() % 7 + 1  # ISO Monday=1..Sunday=7 -> AWS Sunday=1
            key = (month, leap, first_weekday)
            if key not in per_month:
                per_month[key] = cron.month_days(month, leap, first_weekday)
            offset = cycle * _CYCLE_DAYS + first.toordinal() - _CYCLE_ORIGIN - 1
            days.extend(offset + d for d in per_month[key])
    return days, horizon // _CYCLE_YEARS * _CYCLE_DAYS


@lru_cache(maxsize=1024)
def longest_gap(expression: str) -> timedelta:
    """The longest time between two consecutive runs of a recurring schedule, exactly."""
    schedule = parse(expression)
    if isinstance(schedule, Rate):
        return schedule.every
    days, horizon_days = matching_days(schedule)
    if not days:
        raise ScheduleNotRecurringError(expression, "no date ever matches its day and month fields")
    times = schedule.times
    within_day = max((b - a for a, b in pairwise(times)), default=0)
    # The wrap-around gap closes the cycle: from the last run day back to the first one, a cycle later.
    between_days = max(
        max((b - a for a, b in pairwise(days)), default=0),
        days[0] + horizon_days - days[-1],
    )
    minutes = max(within_day, between_days * 1440 - (times[-1] - times[0]))
    return minutes * MINUTE


def describe(gap: timedelta) -> str:
    """`92 days`, `1 day 12 hours`, `45 minutes`: a gap as a reviewer reads it."""
    total = int(gap.total_seconds() // 60)
    days, rest = divmod(total, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words) or "0 minutes"
