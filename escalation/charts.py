"""Server-rendered SVG charts of the report page: geometry computed here, drawn by the template as plain
``<rect>``/``<polyline>`` elements with classes for colour (no script, no inline style, no library)."""

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 640, 180
LEFT, BOTTOM, TOP = 36, 22, 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    legend: list[tuple[str, str]]  # (css class, label)
    bars: list[Bar]
    lines: list[tuple[str, str]]  # (css class, "x,y x,y …")
    ticks: list[Tick]
    labels: list[tuple[float, str]]  # x-axis labels
    width: int = WIDTH
    height: int = HEIGHT
    description: str = ""

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return WIDTH

    @property
    def baseline(self) -> int:
        return HEIGHT - BOTTOM


def _nice_max(value: float) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return int(value) + 1


def _x_labels(dates: list[str], slot: float) -> list[tuple[float, str]]:
    every = max(1, len(dates) // 8)
    return [(LEFT + slot * (i + 0.5), date[5:]) for i, date in enumerate(dates) if i % every == 0]


def stacked_bars(title: str, days: list[dict[str, Any]], series: list[tuple[str, str, str]]) -> Chart:
    """One stacked bar per day; ``series`` is (count name, css class, label), bottom first."""
    dates = [day["date"] for day in days]
    totals = [sum(day["_counts"][name] for name, _, _ in series) for day in days]
    top = _nice_max(max(totals, default=0) or 1)
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        y = float(HEIGHT - BOTTOM)
        for name, css, label in series:
            value = day["_counts"][name]
            if not value:
                continue
            height = plot_height * value / top
            y -= height
            bars.append(
                Bar(
                    x=round(LEFT + slot * i + slot * 0.15, 1),
                    y=round(y, 1),
                    width=round(slot * 0.7, 1),
                    height=round(height, 1),
                    css=css,
                    title=f"{day['date']}: {value} {label.lower()}",
                )
            )
    ticks = [Tick(y=round(HEIGHT - BOTTOM - plot_height * n / 4, 1), label=str(top * n // 4)) for n in range(5)]
    summary = ", ".join(f"{label}: {sum(day['_counts'][name] for day in days)}" for name, _, label in series)
    return Chart(
        title=title,
        legend=[(css, label) for _, css, label in series],
        bars=bars,
        lines=[],
        ticks=ticks,
        labels=_x_labels(dates, slot),
        description=f"{title} per day. Totals: {summary}.",
    )


def rate_lines(title: str, days: list[dict[str, Any]], series: list[tuple[str, str, str]]) -> Chart:
    """One line per rate (0-100%) over the days; a day without a value breaks nothing, it is skipped."""
    dates = [day["date"] for day in days]
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(days), 1)
    lines = []
    for name, css, _ in series:
        points = [
            f"{LEFT + slot * (i + 0.5):.1f},{HEIGHT - BOTTOM - plot_height * day[name]:.1f}"
            for i, day in enumerate(days)
            if day[name] is not None
        ]
        lines.append((css, " ".join(points)))
    ticks = [Tick(y=round(HEIGHT - BOTTOM - plot_height * n / 4, 1), label=f"{25 * n}%") for n in range(5)]
    return Chart(
        title=title,
        legend=[(css, label) for _, css, label in series],
        bars=[],
        lines=lines,
        ticks=ticks,
        labels=_x_labels(dates, slot),
        description=f"{title} per day, from 0 to 100%.",
    )


def report_charts(report: dict[str, Any]) -> list[Chart]:
    days = report["daily"]
    for day in days:
        counts = day["_counts"]
        # Every conversation is one of: resolved by the AI, escalated, or neither (no AI reply, no handoff).
        counts["_not_involved"] = counts["conversations"] - counts["ai_resolved"] - counts["escalated"]
    return [
        stacked_bars(
            "Conversations",
            days,
            [
                ("ai_resolved", "series-1", "Resolved by the AI"),
                ("escalated", "series-2", "Escalated"),
                ("_not_involved", "series-3", "Without an AI reply"),
            ],
        ),
        rate_lines(
            "AI resolution and escalation rates",
            days,
            [
                ("ai_resolution_rate", "series-1", "AI resolution rate"),
                ("escalation_rate", "series-2", "Escalation rate"),
            ],
        ),
        stacked_bars(
            "Turns held back and escalations",
            days,
            [
                ("held_gate_knowledge", "series-4", "Held back: knowledge gate"),
                ("held_gate_attempts", "series-5", "Held back: max attempts"),
                ("held_mode_off", "series-6", "Held back: mode off"),
                ("held_filter", "series-3", "Held back: filter"),
                ("held_gate_web", "series-7", "Held back: web gate"),
                ("delayed", "series-2", "Delayed escalations"),
            ],
        ),
    ]
