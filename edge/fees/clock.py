"""Local dates and wall-clock instants of a tariff's time zone, as integer UTC seconds.

The fee engine works on integer UTC seconds (times count to the second) and
asks this class where local days and band edges fall. Conversions are memoised
per local date, which keeps pricing pure (same answer for the same question)
and fast: a stay of a day touches two or three dates. Daylight-saving days are
handled by wall-clock arithmetic (a 23 h or 25 h day has its edges at the
right instants).

The times a quote is given are checked here first (:func:`utc_seconds`): the
engine prices instants from 1970 to 2199 (UTC) only, which keeps every local
date it walks well inside what :mod:`datetime` can hold (a time in year 1 or
9999 is a typo, not a stay); and a time read in a zone's own wall clock must be
one that clock shows exactly once. A time the clocks skip (02:30 on a
spring-forward day) or show twice (fall back) is refused rather than moved or
guessed, because either would change what is charged; such a time is given
with its UTC offset instead (:meth:`LocalClock.local_time` picks an
occurrence when asked to).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from contracts.tariff import END_INSTANT, FIRST_INSTANT, PRICED_YEARS
from edge.fees.passage import QuoteError

_DAYS_CACHED = 4096


def utc_seconds(moment: datetime, name: str) -> int:
    """``moment`` as integer UTC seconds, or :class:`QuoteError` naming ``name`` and the value.

    Refused: a naive time, a time outside :data:`PRICED_YEARS`, and a time in a
    zone's wall clock that the zone skips or shows twice (see the module docstring).
    """
    tz = moment.tzinfo
    # timezone and ZoneInfo always give an offset; another tzinfo may say None (naive).
    if tz is None or (type(tz) not in (timezone, ZoneInfo) and moment.utcoffset() is None):
        raise QuoteError(f"{name} {moment.isoformat()} has no time zone")
    return _checked(moment, name, None)


def _checked(moment: datetime, name: str, shown: str | None, choose: str = "") -> int:
    """:func:`utc_seconds` of an aware ``moment``, naming it as ``shown`` (default: its ISO
    form) when refused; ``choose`` adds another way to pick one of a repeated time."""
    try:
        instant = moment.timestamp()
    except (OverflowError, ValueError, OSError):  # an offset pushing it past year 1 or 9999
        instant = -1.0
    if not FIRST_INSTANT <= instant < END_INSTANT:
        raise QuoteError(
            f"{name} {shown or moment.isoformat()} is outside the times the fee engine prices "
            f"(the years {PRICED_YEARS})"
        )
    tz = moment.tzinfo
    if type(tz) is not timezone and tz is not None and _clocks_change(tz, moment.toordinal()):
        offset = moment.utcoffset()
        other = moment.replace(fold=1 - moment.fold).utcoffset()
        if offset is not None and other is not None and other != offset:
            _refuse(moment.replace(tzinfo=None), tz, offset, other, name=name, choose=choose)
    return int(instant)


@lru_cache(maxsize=_DAYS_CACHED * 2)
def _clocks_change(tz: tzinfo, ordinal: int) -> bool:
    """Whether the clocks of ``tz`` skip or repeat any time on this local date.

    Sampled every half hour (both folds) and at the next midnight: a change of
    offset between samples, or a sample the two folds read differently, is a
    transition. (Offsets change at most a few times a year, and never back
    within half an hour.) Memoised, so that checking a quote's times costs a
    lookup on the ordinary days.
    """
    day = datetime.combine(date.fromordinal(ordinal), time())
    offsets = set()
    for half_hour in range(49):
        sample = day + timedelta(minutes=30 * half_hour)
        offsets.add(sample.replace(tzinfo=tz, fold=0).utcoffset())
        offsets.add(sample.replace(tzinfo=tz, fold=1).utcoffset())
    return len(offsets) > 1


def _refuse(
    wall: datetime, tz: object, offset: timedelta, other: timedelta, *, name: str, choose: str
) -> None:
    """Refuse a wall-clock time read with ``offset`` that reads ``other`` with the other fold."""
    # PEP 495: in a gap, fold 0 reads the offset from before the jump (the smaller
    # one); in a repeat, the first occurrence's (the larger one).
    first, second = (offset, other) if wall.fold == 0 else (other, offset)
    if first < second:
        raise QuoteError(
            f"{name} {wall.isoformat()} does not exist in {tz}: the clocks skip it "
            f"(the UTC offset changes from {_offset(first)} to {_offset(second)}); "
            "check the time, or give it with its UTC offset"
        )
    raise QuoteError(
        f"{name} {wall.isoformat()} is ambiguous in {tz}: the clocks show it twice, "
        f"at UTC offset {_offset(first)} and then {_offset(second)}; give it with its "
        f"offset (e.g. {wall.isoformat()}{_offset(first)} for the first){choose}"
    )


def _offset(delta: timedelta) -> str:
    """``+02:00``, ``-05:00``."""
    minutes = int(delta.total_seconds()) // 60
    hours, minute = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else '+'}{hours:02d}:{minute:02d}"


class LocalClock:
    def __init__(self, zone: str) -> None:
        self.tz = ZoneInfo(zone)
        self.wall = lru_cache(maxsize=_DAYS_CACHED * 8)(self._wall)

    def _wall(self, ordinal: int, minute: int) -> int:
        """The first instant at which local time reaches ``minute`` (0–1440) of this date.

        Usually the instant the clock shows that time; when the clocks jump over
        it (spring forward), the instant of the jump; when they show it twice
        (fall back), the first time.
        """
        wanted = datetime.combine(date.fromordinal(ordinal), time()) + timedelta(minutes=minute)
        instant = int(wanted.replace(tzinfo=self.tz).timestamp())
        if self._local(instant) == wanted:
            return instant
        # In a gap: fold=1 reads the time with the offset after the jump, which lands before it.
        before = int(wanted.replace(tzinfo=self.tz, fold=1).timestamp())
        while instant - before > 1:
            middle = (before + instant) // 2
            if self._local(middle) >= wanted:
                instant = middle
            else:
                before = middle
        return instant

    def _local(self, instant: int) -> datetime:
        """Local wall-clock time of ``instant``, without the zone."""
        return datetime.fromtimestamp(instant, self.tz).replace(tzinfo=None)

    def ordinal(self, instant: int) -> int:
        """The local date (as an ordinal) on which ``instant`` falls."""
        return datetime.fromtimestamp(instant, self.tz).toordinal()

    def midnight_after(self, ordinal: int) -> int:
        """The instant the day after ``ordinal`` starts."""
        return self.wall(ordinal + 1, 0)

    def local_text(self, instant: int) -> str:
        return datetime.fromtimestamp(instant, self.tz).strftime("%Y-%m-%d %H:%M")

    def local_time(self, wall: datetime, name: str, fold: int | None = None) -> datetime:
        """The instant a naive ``wall`` time of this zone names, with its UTC offset fixed.

        A time the clocks skip is refused; a time they show twice is refused
        unless ``fold`` picks the occurrence (0 the first, 1 the second, as in
        :pep:`495`). Raises :class:`QuoteError` naming ``name``.
        """
        first = wall.replace(tzinfo=self.tz, fold=0).utcoffset()
        second = wall.replace(tzinfo=self.tz, fold=1).utcoffset()
        assert first is not None  # a ZoneInfo has an offset at every time
        assert second is not None
        shown = f"{wall.isoformat()} ({self.tz})"
        if fold is not None and first > second:  # shown twice, and the caller said which
            offset = first if fold == 0 else second
            chosen = wall.replace(tzinfo=timezone(offset))
            _checked(chosen, name, shown)
            return chosen
        choose = ", or say which occurrence (fold 0 the first, 1 the second)"
        _checked(wall.replace(tzinfo=self.tz, fold=0), name, shown, choose)  # gaps, repeats
        return wall.replace(tzinfo=timezone(first))
