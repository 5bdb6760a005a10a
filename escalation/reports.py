"""The escalation report: what the AI did for an agent over a date range, day by day.

Two halves. ``report_days_compute`` counts a set of days straight from the stored rows (conversations, AI
turns, escalations, tickets): it is what the rollup table ``ReportDay`` holds, written by
``escalation.services.report_days_refresh``. ``escalation_report`` reads those rollups — a few hundred small
rows for a quarter, whatever the history's size — plus one query for the median first reply, and turns the
counts into the report. ``escalation_report_from_rows`` is the same report computed from the rows alone (the
tests' reference; the rollups must always agree with it).

Days are dates in the workspace's time zone. Each count belongs to one day and one settings version:

- conversation counts (``conversations``, ``involved``, ``ai_resolved``, ``escalated``, ``delayed``) to the day
  the conversation started, under the version of the agent's settings in force then;
- ``held_<rule>`` (AI turns a rule held back) to the turn's day, under the version in force at the turn;
- ``escalations_<reason>`` (every escalation, automatic or manual) to the escalation's day and the version
  that judged it;
- ticket counts (``tickets``, ``reopened``, verdicts, first replies, SLA, CSAT) to the day the ticket opened,
  under the version that opened it.

Definitions (shown on the report page):

- **involvement rate**: conversations in which the AI replied at least once, over conversations started;
- **AI resolution rate**: of the conversations the AI took part in, those that never escalated to a
  teammate (no handoff of any kind, the customer's own requests included);
- **escalation rate**: conversations with at least one escalation, over conversations started;
- **delayed escalation**: a conversation in which a rule held an AI turn back and that escalated later on;
- **reopen rate**: tickets re-opened at least once after being closed, over tickets opened;
- **first reply**: seconds from the ticket's opening to a teammate's first reply (median of the tickets
  answered);
- **SLA met rate**: of the tickets with a first-reply due time whose outcome is known (answered, or due time
  passed), those answered by the due time;
- **CSAT**: the average customer rating (1-5) and how many rated; ``ai`` for tickets closed without a
  teammate's reply, ``human`` for the others.
"""

import statistics
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import DurationField, ExpressionWrapper, F, Func, Q, QuerySet
from django.utils import timezone

from agents.models import Agent, AgentTurn, Conversation
from escalation.engine import Reason, SuppressedBy
from escalation.models import EscalationSettingsVersion, ReportDay
from halo.models import Workspace
from halo.params import parse_id, parse_int
from inbox.models import EscalationEvent, Ticket

REASONS: tuple[str, ...] = tuple(reason.value for reason in Reason)
RULES: tuple[str, ...] = tuple(rule.value for rule in SuppressedBy)
VERDICTS: tuple[str, ...] = tuple(Ticket.Verdict.values)

COUNTERS: tuple[str, ...] = (
    "conversations",
    "involved",
    "ai_resolved",
    "escalated",
    "delayed",
    *(f"escalations_{reason}" for reason in REASONS),
    *(f"held_{rule}" for rule in RULES),
    "tickets",
    "reopened",
    *(f"verdict_{verdict}" for verdict in VERDICTS),
    "first_replies",
    "sla_due",
    "sla_met",
    "csat_ai_sum",
    "csat_ai_count",
    "csat_human_sum",
    "csat_human_count",
)
# Stored beside the counters: the day's median first reply in seconds (a median does not add up; the
# report's own median over its range comes from the tickets, in one query).
MEDIAN_KEY = "first_reply_median"
NO_VERSION = 0
MAX_DAYS = 366

AI_RESOLUTION_DEFINITION = (
    "Of the conversations the AI took part in, the share that never escalated to a teammate — no handoff of any "
    "kind, the customer's own requests included."
)

Key = tuple[int, date, int]  # (agent id, day, settings version)


def workspace_zone(workspace: Workspace) -> ZoneInfo:
    return ZoneInfo(workspace.timezone or "UTC")


def day_bounds(day_from: date, day_to: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants that start ``day_from`` and end ``day_to`` (exclusive) in ``zone``."""
    return (
        datetime.combine(day_from, time.min, tzinfo=zone),
        datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=zone),
    )


class _Versions:
    """Which settings version of each agent was in force at a time (from the saved versions' times)."""

    def __init__(self, workspace: Workspace) -> None:
        self._by_agent: dict[int, tuple[list[datetime], list[int]]] = {}
        rows = (
            EscalationSettingsVersion.objects.filter(escalation_settings__agent__workspace=workspace)
            .order_by("escalation_settings__agent_id", "changed_at", "version")
            .values_list("escalation_settings__agent_id", "changed_at", "version")
        )
        for agent_id, changed_at, version in rows:
            times, versions = self._by_agent.setdefault(agent_id, ([], []))
            times.append(changed_at)
            versions.append(version)

    def at(self, agent_id: int, when: datetime) -> int:
        found = self._by_agent.get(agent_id)
        if not found:
            return NO_VERSION
        times, versions = found
        index = bisect_right(times, when)
        # Before the first saved version the agent ran on the first one's defaults: count it there.
        return versions[max(index - 1, 0)]


def _empty() -> dict[str, Any]:
    return dict.fromkeys(COUNTERS, 0)


def report_days_compute(
    *, workspace: Workspace, days: Iterable[date], now: datetime | None = None
) -> dict[Key, dict[str, Any]]:
    """The counts of ``days`` for every agent and settings version of the workspace, from the stored rows.

    A key is missing when nothing happened. Queries: seven, whatever the number of days (each reads only the
    rows of the span from the first to the last day asked, filtered by day afterwards).
    """
    wanted = set(days)
    if not wanted:
        return {}
    now = now or timezone.now()
    zone = workspace_zone(workspace)
    start, end = day_bounds(min(wanted), max(wanted), zone)
    versions = _Versions(workspace)
    rows: dict[Key, dict[str, Any]] = defaultdict(_empty)
    first_replies: dict[Key, list[float]] = defaultdict(list)

    def day_of(when: datetime) -> date | None:
        local = when.astimezone(zone).date()
        return local if local in wanted else None

    # Conversations started in the span, with their turns and escalations (whenever they happened).
    conversations = {
        pk: (agent_id, created_at)
        for pk, agent_id, created_at in Conversation.objects.filter(
            workspace=workspace, created_at__gte=start, created_at__lt=end
        ).values_list("pk", "agent_id", "created_at")
    }
    involved: set[int] = set()
    first_held: dict[int, datetime] = {}
    for conversation_id, created_at, suppressed_by in AgentTurn.objects.filter(
        conversation__workspace=workspace, conversation__created_at__gte=start, conversation__created_at__lt=end
    ).values_list("conversation_id", "created_at", "suppressed_by"):
        involved.add(conversation_id)
        if suppressed_by and (conversation_id not in first_held or created_at < first_held[conversation_id]):
            first_held[conversation_id] = created_at
    last_escalation: dict[int, datetime] = {}
    for conversation_id, created_at in EscalationEvent.objects.filter(
        workspace=workspace, conversation__created_at__gte=start, conversation__created_at__lt=end
    ).values_list("conversation_id", "created_at"):
        if conversation_id not in last_escalation or created_at > last_escalation[conversation_id]:
            last_escalation[conversation_id] = created_at
    for conversation_id, (agent_id, created_at) in conversations.items():
        day = day_of(created_at)
        if day is None:
            continue
        counts = rows[(agent_id, day, versions.at(agent_id, created_at))]
        counts["conversations"] += 1
        escalated_at = last_escalation.get(conversation_id)
        if conversation_id in involved:
            counts["involved"] += 1
            if escalated_at is None:
                counts["ai_resolved"] += 1
        if escalated_at is not None:
            counts["escalated"] += 1
            held_at = first_held.get(conversation_id)
            if held_at is not None and held_at < escalated_at:
                counts["delayed"] += 1

    # Turns held back in the span, by rule.
    for agent_id, created_at, suppressed_by in AgentTurn.objects.filter(
        conversation__workspace=workspace, created_at__gte=start, created_at__lt=end, suppressed_by__isnull=False
    ).values_list("conversation__agent_id", "created_at", "suppressed_by"):
        day = day_of(created_at)
        if day is not None and suppressed_by in RULES:
            rows[(agent_id, day, versions.at(agent_id, created_at))][f"held_{suppressed_by}"] += 1

    # Escalations in the span, by reason.
    for agent_id, created_at, reason, version in EscalationEvent.objects.filter(
        workspace=workspace, created_at__gte=start, created_at__lt=end
    ).values_list("conversation__agent_id", "created_at", "reason", "settings_version"):
        day = day_of(created_at)
        if day is not None and reason in REASONS:
            rows[(agent_id, day, version or NO_VERSION)][f"escalations_{reason}"] += 1

    # Tickets opened in the span.
    for ticket in Ticket.objects.filter(
        workspace=workspace, agent__isnull=False, created_at__gte=start, created_at__lt=end
    ).values(
        "agent_id",
        "created_at",
        "settings_version",
        "reopened_count",
        "verdict",
        "first_replied_at",
        "first_reply_due_at",
        "rating_score",
    ):
        day = day_of(ticket["created_at"])
        if day is None:
            continue
        key = (ticket["agent_id"], day, ticket["settings_version"] or NO_VERSION)
        counts = rows[key]
        counts["tickets"] += 1
        counts["reopened"] += ticket["reopened_count"] > 0
        if ticket["verdict"] in VERDICTS:
            counts[f"verdict_{ticket['verdict']}"] += 1
        replied_at, due_at = ticket["first_replied_at"], ticket["first_reply_due_at"]
        if replied_at is not None:
            counts["first_replies"] += 1
            first_replies[key].append((replied_at - ticket["created_at"]).total_seconds())
        if due_at is not None and (replied_at is not None or due_at <= now):
            counts["sla_due"] += 1
            counts["sla_met"] += replied_at is not None and replied_at <= due_at
        if ticket["rating_score"] is not None:
            side = "ai" if replied_at is None else "human"
            counts[f"csat_{side}_sum"] += ticket["rating_score"]
            counts[f"csat_{side}_count"] += 1

    result: dict[Key, dict[str, Any]] = {}
    for key, counts in rows.items():
        seconds = first_replies.get(key)
        counts[MEDIAN_KEY] = float(statistics.median(seconds)) if seconds else None
        result[key] = counts
    return result


# --- The report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportQuery:
    """What the report covers: one workspace, optionally one agent and one of its settings versions, and the
    days from ``day_from`` to ``day_to`` (both included, in the workspace's time zone)."""

    workspace: Workspace
    day_from: date
    day_to: date
    agent_id: int | None = None
    version: int | None = None

    @property
    def days(self) -> list[date]:
        return [self.day_from + timedelta(days=n) for n in range((self.day_to - self.day_from).days + 1)]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _csat(counts: dict[str, Any], side: str) -> dict[str, Any]:
    count = counts[f"csat_{side}_count"]
    return {"average": round(counts[f"csat_{side}_sum"] / count, 2) if count else None, "count": count}


def report_shape(counts: dict[str, Any], median: float | None) -> dict[str, Any]:
    """The report's fields from summed counts (the whole range, or one day)."""
    shaped = {
        "conversations": counts["conversations"],
        "involvement_rate": _rate(counts["involved"], counts["conversations"]),
        "ai_resolution_rate": _rate(counts["ai_resolved"], counts["involved"]),
        "escalation_rate": _rate(counts["escalated"], counts["conversations"]),
        "escalations_by_reason": {reason: counts[f"escalations_{reason}"] for reason in REASONS},
        "held_back_by": {rule: counts[f"held_{rule}"] for rule in RULES},
        "delayed_escalations": counts["delayed"],
        "verdicts": {verdict: counts[f"verdict_{verdict}"] for verdict in VERDICTS},
        "reopen_rate": _rate(counts["reopened"], counts["tickets"]),
        "median_first_reply_seconds": round(median, 1) if median is not None else None,
        "sla_met_rate": _rate(counts["sla_met"], counts["sla_due"]),
        "csat": {"ai": _csat(counts, "ai"), "human": _csat(counts, "human")},
    }
    return shaped


def _add(total: dict[str, Any], counts: dict[str, Any]) -> None:
    for name in COUNTERS:
        total[name] += counts.get(name, 0)


def _assemble(query: ReportQuery, by_day: dict[date, list[dict[str, Any]]], median: float | None) -> dict[str, Any]:
    total = _empty()
    daily = []
    for day in query.days:
        day_counts = _empty()
        parts = by_day.get(day, [])
        for counts in parts:
            _add(day_counts, counts)
        _add(total, day_counts)
        medians = [counts[MEDIAN_KEY] for counts in parts if counts.get(MEDIAN_KEY) is not None]
        # One part (one agent, one version): its median. Several: the median of their medians, an
        # approximation the daily chart can live with (the range's own median is exact).
        daily.append(
            {
                "date": day.isoformat(),
                **report_shape(day_counts, statistics.median(medians) if medians else None),
                "_counts": day_counts,
            }
        )
    return {
        "from": query.day_from.isoformat(),
        "to": query.day_to.isoformat(),
        "agent": query.agent_id,
        "version": query.version,
        **report_shape(total, median),
        "daily": daily,
        "_counts": total,
    }


def report_public(report: dict[str, Any]) -> dict[str, Any]:
    """The report as the API returns it: without the raw counts kept for the page."""
    return {
        **{key: value for key, value in report.items() if key not in ("_counts", "daily")},
        "daily": [{key: value for key, value in day.items() if key != "_counts"} for day in report["daily"]],
    }


def _tickets_in_range(query: ReportQuery) -> QuerySet[Ticket]:
    start, end = day_bounds(query.day_from, query.day_to, workspace_zone(query.workspace))
    tickets = Ticket.objects.filter(
        workspace=query.workspace,
        agent__isnull=False,
        created_at__gte=start,
        created_at__lt=end,
        first_replied_at__isnull=False,
    )
    if query.agent_id is not None:
        tickets = tickets.filter(agent_id=query.agent_id)
    if query.version is not None:
        tickets = (
            tickets.filter(Q(settings_version=query.version) | Q(settings_version__isnull=True))
            if query.version == NO_VERSION
            else tickets.filter(settings_version=query.version)
        )
    return tickets


class _Median(Func):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    contains_aggregate = True


def median_first_reply_seconds(query: ReportQuery) -> float | None:
    """The median seconds from opening to first reply of the range's answered tickets: one query
    (PostgreSQL computes it; elsewhere the durations are read and the median taken here)."""
    tickets = _tickets_in_range(query)
    wait = ExpressionWrapper(F("first_replied_at") - F("created_at"), output_field=DurationField())
    if connection.vendor == "postgresql":
        value = tickets.aggregate(median=_Median(wait, output_field=DurationField()))["median"]
        return value.total_seconds() if value is not None else None
    seconds = [
        (replied - created).total_seconds()
        for created, replied in tickets.values_list("created_at", "first_replied_at")
        if replied is not None
    ]
    return float(statistics.median(seconds)) if seconds else None


def escalation_report(query: ReportQuery) -> dict[str, Any]:
    """The report from the rollups: two queries, whatever the history's size."""
    rollups = ReportDay.objects.filter(
        workspace=query.workspace, day__gte=query.day_from, day__lte=query.day_to
    ).values_list("day", "counts")
    if query.agent_id is not None:
        rollups = rollups.filter(agent_id=query.agent_id)
    if query.version is not None:
        rollups = rollups.filter(settings_version=query.version)
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for day, counts in rollups:
        by_day[day].append(counts)
    return _assemble(query, by_day, median_first_reply_seconds(query))


def escalation_report_from_rows(query: ReportQuery, *, now: datetime | None = None) -> dict[str, Any]:
    """The same report counted from the stored rows, without the rollups."""
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for (agent_id, day, version), counts in report_days_compute(
        workspace=query.workspace, days=query.days, now=now
    ).items():
        if (query.agent_id is None or agent_id == query.agent_id) and (
            query.version is None or version == query.version
        ):
            by_day[day].append(counts)
    return _assemble(query, by_day, median_first_reply_seconds(query))


# --- CSV -----------------------------------------------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = (
    "date",
    "conversations",
    "involvement_rate",
    "ai_resolution_rate",
    "escalation_rate",
    *(f"escalations_{reason}" for reason in REASONS),
    *(f"held_back_{rule}" for rule in RULES),
    "delayed_escalations",
    *(f"verdict_{verdict}" for verdict in VERDICTS),
    "tickets",
    "reopen_rate",
    "median_first_reply_seconds",
    "sla_met_rate",
    "csat_ai_average",
    "csat_ai_count",
    "csat_human_average",
    "csat_human_count",
)


def report_csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per day, then a ``total`` row: the columns of ``CSV_COLUMNS``."""

    def row(label: str, values: dict[str, Any]) -> list[Any]:
        return [
            label,
            values["conversations"],
            values["involvement_rate"],
            values["ai_resolution_rate"],
            values["escalation_rate"],
            *(values["escalations_by_reason"][reason] for reason in REASONS),
            *(values["held_back_by"][rule] for rule in RULES),
            values["delayed_escalations"],
            *(values["verdicts"][verdict] for verdict in VERDICTS),
            values["_counts"]["tickets"],
            values["reopen_rate"],
            values["median_first_reply_seconds"],
            values["sla_met_rate"],
            values["csat"]["ai"]["average"],
            values["csat"]["ai"]["count"],
            values["csat"]["human"]["average"],
            values["csat"]["human"]["count"],
        ]

    return [*(row(day["date"], day) for day in report["daily"]), row("total", report)]


# --- Which days need counting again --------------------------------------------------------------------


def report_days_touched(*, workspace: Workspace, since: datetime | None, now: datetime) -> set[date]:
    """The days whose counts may have changed since ``since`` (every day with data when None).

    Everything counted hangs off a conversation or a ticket: a new turn, message or escalation moves its
    conversation's ``updated_at``; a ticket change moves its ``updated_at``, ``first_replied_at`` or
    ``rated_at``, or its first-reply due time passes. So: the days from ``since`` to ``now`` (turns and
    escalations happen then), the start days of the conversations updated since, and the opening days of
    the tickets changed since. Four queries.
    """
    zone = workspace_zone(workspace)
    days: set[date] = set()

    def local(when: datetime) -> date:
        return when.astimezone(zone).date()

    if since is None:
        starts = [
            Conversation.objects.filter(workspace=workspace).order_by("created_at").values_list("created_at").first(),
            Ticket.objects.filter(workspace=workspace).order_by("created_at").values_list("created_at").first(),
        ]
        firsts = [row[0] for row in starts if row is not None]
        if not firsts:
            return set()
        since_day = local(min(firsts))
    else:
        since_day = local(since)
        days.update(
            local(created_at)
            for created_at in Conversation.objects.filter(workspace=workspace, updated_at__gte=since).values_list(
                "created_at", flat=True
            )
        )
        days.update(
            local(created_at)
            for created_at in Ticket.objects.filter(
                Q(updated_at__gte=since)
                | Q(first_replied_at__gte=since)
                | Q(rated_at__gte=since)
                | Q(first_reply_due_at__gte=since, first_reply_due_at__lte=now),
                workspace=workspace,
            ).values_list("created_at", flat=True)
        )
    today = local(now)
    day = since_day
    while day <= today:
        days.add(day)
        day += timedelta(days=1)
    return days


# --- The report's parameters -----------------------------------------------------------------------------

DEFAULT_DAYS = 30


def report_query_parse(
    *, workspace: Workspace, params: dict[str, str], now: datetime | None = None, blank_is_default: bool = True
) -> ReportQuery:
    """``agent``, ``from``, ``to`` and ``version`` from a query string, checked; a ``ValidationError`` with one
    message per wrong field otherwise. Defaults: every agent, the last 30 days to today (workspace time). A
    parameter left blank takes its default on the page (an emptied picker); ``blank_is_default=False`` (the
    API) refuses it, as its schema says."""
    errors: dict[str, list[str]] = {}
    if not blank_is_default:
        for name in ("agent", "from", "to", "version"):
            if name in params and not params[name].strip():
                errors[name] = ["Leave the parameter out for its default, or give a value."]
    today = (now or timezone.now()).astimezone(workspace_zone(workspace)).date()

    def day(name: str) -> date | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            return None

    day_to = day("to")
    if params.get("to", "").strip() and day_to is None:
        errors["to"] = ["A date as YYYY-MM-DD."]
    day_from = day("from")
    if params.get("from", "").strip() and day_from is None:
        errors["from"] = ["A date as YYYY-MM-DD."]
    day_to = day_to or today
    day_from = day_from or day_to - timedelta(days=DEFAULT_DAYS - 1)
    if "from" not in errors and "to" not in errors:
        if day_from > day_to:
            errors["from"] = ["The start date must not be after the end date."]
        elif (day_to - day_from).days + 1 > MAX_DAYS:
            errors["from"] = [f"At most {MAX_DAYS} days at once."]

    agent_id = None
    raw_agent = (params.get("agent") or "").strip()
    if raw_agent:
        agent_id = parse_id(raw_agent)
        if agent_id is None or not Agent.objects.filter(workspace=workspace, pk=agent_id).exists():
            errors["agent"] = ["No such agent in this workspace."]
    version = None
    raw_version = (params.get("version") or "").strip()
    if raw_version:
        version = parse_int(raw_version)
        if version is None:
            errors["version"] = ["A settings version number."]
        elif not raw_agent:
            errors["version"] = ["Choose an agent first: settings versions belong to one agent."]
    if errors:
        raise ValidationError(errors)
    return ReportQuery(workspace=workspace, day_from=day_from, day_to=day_to, agent_id=agent_id, version=version)


def report_versions(*, workspace: Workspace, agent_id: int) -> list[int]:
    """The saved settings versions of one of the workspace's agents, newest first (the version picker)."""
    return list(
        EscalationSettingsVersion.objects.filter(
            escalation_settings__agent_id=agent_id, escalation_settings__agent__workspace=workspace
        )
        .order_by("-version")
        .values_list("version", flat=True)
    )
