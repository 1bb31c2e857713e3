"""Calendar periods the KPIs are measured over: a month, a quarter, a year, or (for the TCP
impact view) any window of whole days treated as one period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models


class PeriodType(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


_MONTHS = {PeriodType.MONTH: 1, PeriodType.QUARTER: 3, PeriodType.YEAR: 12}


def add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive: "E", the period's last day
    kind: str = "window"

    @classmethod
    def of(cls, kind: str, day: dt.date) -> Period:
        """The period of type `kind` that contains `day`."""
        months = _MONTHS[PeriodType(kind)]
        month = (day.month - 1) // months * months + 1
        start = dt.date(day.year, month, 1)
        return cls(start, add_months(start, months) - dt.timedelta(days=1), kind)

    @classmethod
    def window(cls, start: dt.date, end: dt.date) -> Period:
        return cls(start, end, "window")

    @property
    def months(self) -> int:
        """Length in whole calendar months, counting a partly covered month as one."""
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    @property
    def previous(self) -> Period:
        return Period.of(self.kind, self.start - dt.timedelta(days=1))

    @property
    def year_ago(self) -> Period:
        day = self.start
        return Period.of(self.kind, day.replace(year=day.year - 1))

    @property
    def label(self) -> str:
        if self.kind == PeriodType.MONTH:
            return f"{self.start:%b %Y}"
        if self.kind == PeriodType.QUARTER:
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if self.kind == PeriodType.YEAR:
            return str(self.start.year)
        # "1 Jan 2017", as every other date in the product reads.
        return f"{self.start.day} {self.start:%b %Y} – {self.end.day} {self.end:%b %Y}"

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def periods_between(kind: str, first: dt.date, last: dt.date) -> list[Period]:
    """Every period of type `kind` from the one containing `first` to the one containing
    `last`, oldest first."""
    periods = []
    period = Period.of(kind, first)
    while period.start <= last:
        periods.append(period)
        period = Period.of(kind, period.end + dt.timedelta(days=1))
    return periods


def last_complete_year(today: dt.date) -> Period:
    return Period.of(PeriodType.YEAR, dt.date(today.year - 1, 1, 1))
