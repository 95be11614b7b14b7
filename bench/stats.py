"""Medians, spreads and the one line format every figure is printed in."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """Repeated measurements of one quantity (milliseconds, counts, bytes...)."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Sample:
        if not values:
            raise ValueError("a sample needs at least one value")
        return cls(tuple(float(v) for v in values))

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> tuple[float, float]:
        """The interquartile range (min..max below four values)."""
        ordered = sorted(self.values)
        if len(ordered) < 4:
            return ordered[0], ordered[-1]
        quartiles = statistics.quantiles(ordered, n=4, method="inclusive")
        return quartiles[0], quartiles[2]

    def quantile(self, fraction: float) -> float:
        ordered = sorted(self.values)
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return ordered[index]

    def describe(self, unit: str) -> str:
        low, high = self.spread
        spread = f"IQR {_fmt(low)}..{_fmt(high)}, n={len(self.values)}"
        return f"{_fmt(self.median)}{unit} ({spread})"


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


@dataclass(frozen=True)
class Figure:
    """One line of the report: a measured quantity against its floor, as a ratio."""

    title: str  # carries the words the issue asks for ("cold start", "round trip", ...)
    measured: Sample
    floor: Sample
    unit: str
    goal: str = ""
    met: bool | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.measured.median / self.floor.median if self.floor.median else float("inf")

    def line(self) -> str:
        verdict = "" if self.met is None else (" [goal met]" if self.met else " [goal MISSED]")
        goal = f"; goal {self.goal}" if self.goal else ""
        return (
            f"{self.title}: {self.measured.describe(self.unit)} | floor "
            f"{self.floor.describe(self.unit)} | ratio {self.ratio:.2f}x{goal}{verdict}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "measured": list(self.measured.values),
            "floor": list(self.floor.values),
            "median": self.measured.median,
            "floor_median": self.floor.median,
            "ratio": self.ratio,
            "goal": self.goal,
            "met": self.met,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        return cls(
            title=data["title"],
            measured=Sample.of(data["measured"]),
            floor=Sample.of(data["floor"]),
            unit=data["unit"],
            goal=data["goal"],
            met=data["met"],
            notes=data["notes"],
        )


def print_figures(figures: list[Figure]) -> None:
    """Each figure's line and its notes, as `python -m bench` prints them."""
    for figure in figures:
        print(figure.line())
        for key, value in figure.notes.items():
            print(f"    {key}: {value}")
