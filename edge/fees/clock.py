"""Local dates and wall-clock instants of a tariff's time zone, as integer UTC seconds.

The fee engine works on integer UTC seconds (times count to the second) and
asks this class where local days and band edges fall. Conversions are memoised
per local date, which keeps pricing pure (same answer for the same question)
and fast: a stay of a day touches two or three dates. Daylight-saving days are
handled by wall-clock arithmetic (a 23 h or 25 h day has its edges at the
right instants).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_DAYS_CACHED = 4096


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
