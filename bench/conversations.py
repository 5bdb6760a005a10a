"""Whole conversations played through the widget API: does Halo hand off to a human at the right moment?

Each labelled conversation (``tests/escalation/data/conversations.json``) is a list of user messages as people
type them over the Zulip help center, with the message after which a good AI hands off under the default
settings (``handoff_after``, 1-based) or ``null`` for never: answerable questions with follow-ups and
thanks, requests for a person, near misses, problems only a human can solve (billing disputes, a hijacked
account, legal or data-deletion requests), bugs and outages that become clear by the third message, offers
of a teammate accepted or declined, and chatter. Each is played as a new anonymous visitor (its own
address, as real visitors have) through ``POST /api/widget/v1/conversations`` and
``POST …/conversations/{id}/messages``, one message at a time, until the conversation is handed off or the
messages run out.

Figures (a conversation counts once):

- **handoff precision**: of the conversations Halo handed off, the share a good AI hands off;
- **handoff recall**: of the conversations a good AI hands off, the share Halo handed off;
- **exact turn**: of the conversations a good AI hands off, the share Halo handed off after exactly the
  labelled message (neither earlier nor later).

Targets: precision and recall >= 0.95, exact turn >= 0.85; the exit status is 1 when one is missed.

    .venv/bin/python bench/conversations.py                  # SQLite in a temporary directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/halo_bench_conversations .venv/bin/python bench/conversations.py
    # --conversations PATH  --articles PATH (a help center in the zulip-help format)  --verbose (transcripts)
    # --company NAME: the workspace's name (default Zulip, whose help center it is)
    # --vector-cache FILE: a pack of the passages' vectors (bench/vector_pack.py), e.g.
    #   bench/data/zulip-help/vectors.npz for Zulip's help center, instead of embedding it again

It also sends every message of the labelled request-for-a-human sets (``tests/escalation/data/
human_requests.txt`` and its held-out twin) as the first message of a conversation of its own and counts a
manual handoff as "asked for a human": **handoff-intent precision and recall** through the widget API, with the
default handoff phrases (targets 0.97 and 0.95).

A fresh workspace named after the company whose help center it is (``--company``, default Zulip: customers
ask for a company by name) gets the help center through the server API (``POST /api/v1/knowledge/articles``)
and its first agent with the default settings. ``bench/answers.py`` calls ``handoff_figures(context)`` (its context
carries an API client, the workspace's ``app_id`` and API key) to print the same figures beside its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONVERSATIONS = ROOT / "tests" / "escalation" / "data" / "conversations.json"
ZULIP_ARTICLES = ROOT / "bench" / "data" / "zulip-help" / "articles.json"
HUMAN_REQUESTS = ROOT / "tests" / "escalation" / "data" / "human_requests.txt"
HUMAN_REQUESTS_HELD_OUT = ROOT / "tests" / "escalation" / "data" / "human_requests_heldout.txt"
# The company whose help center the conversations are played over: the workspace is named after it, as a
# company's own Halo workspace is, and customers ask for it by name ("can someone from Zulip call me?").
ZULIP = "Zulip"
TARGET_PRECISION = 0.95
TARGET_RECALL = 0.95
TARGET_EXACT_TURN = 0.85
TARGET_INTENT_PRECISION = 0.97
TARGET_INTENT_RECALL = 0.95


@dataclass(frozen=True)
class LabelledConversation:
    id: str
    kind: str
    messages: tuple[str, ...]
    handoff_after: int | None  # the 1-based user message after which a good AI hands off; None: never
    why: str = ""


@dataclass(frozen=True)
class Turn:
    user: str
    replies: tuple[str, ...]  # what the customer read back: the AI's reply, the handoff notice
    status: str


@dataclass(frozen=True)
class PlayedConversation:
    conversation: LabelledConversation
    turns: tuple[Turn, ...]
    handed_off_after: int | None
    reason: str | None  # the ticket's reason when handed off (manual, escalate_tool, low_confidence, phrase)

    @property
    def exact(self) -> bool:
        return self.handed_off_after == self.conversation.handoff_after


@dataclass(frozen=True)
class ConversationScore:
    total: int
    should: int  # conversations a good AI hands off
    handed_off: int
    correct_handoffs: int  # handed off, and a good AI hands off (at any message)
    exact: int  # handed off after exactly the labelled message
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (exact, total)

    @property
    def precision(self) -> float:
        return self.correct_handoffs / self.handed_off if self.handed_off else 1.0

    @property
    def recall(self) -> float:
        return self.correct_handoffs / self.should if self.should else 1.0

    @property
    def exact_turn(self) -> float:
        return self.exact / self.should if self.should else 1.0

    @property
    def meets_targets(self) -> bool:
        return (
            self.precision >= TARGET_PRECISION and self.recall >= TARGET_RECALL and self.exact_turn >= TARGET_EXACT_TURN
        )


def conversations_load(path: Path = CONVERSATIONS) -> list[LabelledConversation]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    loaded = []
    for item in raw["conversations"]:
        messages = tuple(item["messages"])
        handoff_after = item["handoff_after"]
        if handoff_after is not None and not 1 <= handoff_after <= len(messages):
            raise ValueError(f"{item['id']}: handoff_after {handoff_after} is not one of its messages")
        loaded.append(
            LabelledConversation(
                id=item["id"],
                kind=item["kind"],
                messages=messages,
                handoff_after=handoff_after,
                why=item.get("why", ""),
            )
        )
    return loaded


def help_center_load(*, client: Any, api_key: str, articles: Iterable[dict[str, Any]]) -> int:
    """Posts every article (``title``, ``body``, ``url``) through the server API and runs the jobs the saves
    queued (what a worker does after them, e.g. embedding); returns how many articles."""
    count = 0
    for article in articles:
        response = client.post(
            "/api/v1/knowledge/articles",
            {"title": article["title"], "body": article["body"], "url": article.get("url", "")},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {api_key}",
        )
        if response.status_code != 201:
            raise RuntimeError(f"loading {article['title']!r}: {response.status_code} {response.content[:200]!r}")
        count += 1
    outbox_deliver_pending()
    return count


def outbox_deliver_pending() -> int:
    """Runs every pending outbox job in this process, as a Celery worker would; returns how many ran."""
    from halo.celery import app as celery_app
    from halo.models import OutboxMessage

    celery_app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them at start
    pending = list(OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).values_list("pk", "task"))
    for message_id, task in pending:
        celery_app.tasks[task](message_id=message_id)
    return len(pending)


def conversation_play(
    *, client: Any, app_id: str, api_key: str, conversation: LabelledConversation, address: str
) -> PlayedConversation:
    """Plays one conversation as a new visitor from ``address``, message by message, until it is handed off."""
    turns: list[Turn] = []
    handed_off_after: int | None = None
    conversation_id, token = None, ""
    for number, body in enumerate(conversation.messages, start=1):
        if conversation_id is None:
            response = client.post(
                "/api/widget/v1/conversations", {"app_id": app_id, "body": body}, format="json", REMOTE_ADDR=address
            )
        else:
            response = client.post(
                f"/api/widget/v1/conversations/{conversation_id}/messages?app_id={app_id}",
                {"body": body},
                format="json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
                REMOTE_ADDR=address,
            )
        if response.status_code != 201:
            raise RuntimeError(f"{conversation.id} message {number}: {response.status_code} {response.content[:300]!r}")
        payload = response.json()
        if conversation_id is None:
            conversation_id, token = payload["id"], payload["token"]
        replies = tuple(message["body"] for message in payload["messages"] if message["author"] != "user")
        turns.append(Turn(user=body, replies=replies, status=payload["status"]))
        if payload["status"] == "handed_off":
            handed_off_after = number
            break
    reason = None
    if handed_off_after is not None:
        reason = _ticket_reason(client=client, api_key=api_key, conversation_id=conversation_id)
    return PlayedConversation(
        conversation=conversation, turns=tuple(turns), handed_off_after=handed_off_after, reason=reason
    )


def _ticket_reason(*, client: Any, api_key: str, conversation_id: Any) -> str | None:
    response = client.get(f"/api/v1/conversations/{conversation_id}", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    if response.status_code != 200:
        return None
    payload = response.json()
    decided = [turn.get("reason") for turn in payload.get("turns", []) if turn.get("escalated")]
    return decided[-1] if decided else "manual"


def _address(n: int) -> str:
    """The n-th visitor's own address (the widget API is throttled per address, as for real visitors)."""
    return f"10.{77 + n // 62500}.{n // 250 % 250}.{n % 250 + 1}"


def conversations_play(
    *, client: Any, app_id: str, api_key: str, conversations: Sequence[LabelledConversation]
) -> list[PlayedConversation]:
    """Plays every conversation, each as its own visitor from its own address."""
    return [
        conversation_play(client=client, app_id=app_id, api_key=api_key, conversation=conversation, address=_address(n))
        for n, conversation in enumerate(conversations)
    ]


def conversations_score(played: Sequence[PlayedConversation]) -> ConversationScore:
    should = [p for p in played if p.conversation.handoff_after is not None]
    handed_off = [p for p in played if p.handed_off_after is not None]
    kinds: Counter[str] = Counter(p.conversation.kind for p in played)
    exact_by_kind: Counter[str] = Counter(p.conversation.kind for p in played if p.exact)
    return ConversationScore(
        total=len(played),
        should=len(should),
        handed_off=len(handed_off),
        correct_handoffs=sum(1 for p in handed_off if p.conversation.handoff_after is not None),
        exact=sum(1 for p in should if p.exact),
        by_kind={kind: (exact_by_kind[kind], kinds[kind]) for kind in sorted(kinds)},
    )


def report_lines(score: ConversationScore, played: Sequence[PlayedConversation], *, verbose: bool = False) -> list[str]:
    """The figures as a Markdown table, then every conversation handed off at the wrong moment."""
    lines = [
        f"Conversations: {score.total} ({score.should} a good AI hands off)",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| handoff precision | {score.precision:.3f} ({score.correct_handoffs}/{score.handed_off})"
        f" | >= {TARGET_PRECISION} |",
        f"| handoff recall | {score.recall:.3f} ({score.correct_handoffs}/{score.should}) | >= {TARGET_RECALL} |",
        f"| exact turn | {score.exact_turn:.3f} ({score.exact}/{score.should}) | >= {TARGET_EXACT_TURN} |",
        "",
        "| kind | at the right moment |",
        "|---|---|",
        *(f"| {kind} | {exact}/{total} |" for kind, (exact, total) in score.by_kind.items()),
    ]
    wrong = [p for p in played if not p.exact]
    if wrong:
        lines += ["", "At the wrong moment (expected -> played, reason):"]
        for p in wrong:
            expected = p.conversation.handoff_after or "never"
            got = p.handed_off_after or "never"
            lines.append(f"- {p.conversation.id} ({p.conversation.kind}): {expected} -> {got} ({p.reason or '-'})")
            if verbose:
                lines += _transcript(p)
    if verbose:
        lines += ["", "Transcripts of the others:"]
        for p in played:
            if p.exact:
                lines.append(f"- {p.conversation.id} ({p.conversation.kind}): {p.handed_off_after or 'never'}")
                lines += _transcript(p)
    return lines


def _transcript(played: PlayedConversation) -> list[str]:
    lines = []
    for turn in played.turns:
        lines.append(f"    user: {turn.user}")
        for reply in turn.replies:
            lines.append("      > " + " ".join(reply.split())[:200])
    return lines


# --- Requests for a human, one message each ----------------------------------------------------------


@dataclass(frozen=True)
class IntentScore:
    name: str
    total: int
    requests: int
    handed_off: int
    correct: int  # handed off, and the message asks for a human
    misread: tuple[str, ...]

    @property
    def precision(self) -> float:
        return self.correct / self.handed_off if self.handed_off else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.requests if self.requests else 1.0

    @property
    def meets_targets(self) -> bool:
        return self.precision >= TARGET_INTENT_PRECISION and self.recall >= TARGET_INTENT_RECALL


def intent_examples_load(path: Path) -> list[tuple[str, bool]]:
    """``+ text`` asks for a human, ``- text`` does not (the format of the labelled sets)."""
    return [
        (line[2:], line[0] == "+") for line in path.read_text(encoding="utf-8").splitlines() if line[:2] in ("+ ", "- ")
    ]


def intent_play(
    *, client: Any, app_id: str, api_key: str, name: str, examples: Sequence[tuple[str, bool]], first_address: int
) -> IntentScore:
    """Each message starts a conversation of its own; a manual handoff (no AI turn decided it) means "asked"."""
    handed_off = correct = 0
    misread = []
    for n, (text, asks) in enumerate(examples):
        address = _address(first_address + n)
        response = client.post(
            "/api/widget/v1/conversations", {"app_id": app_id, "body": text}, format="json", REMOTE_ADDR=address
        )
        if response.status_code != 201:
            raise RuntimeError(f"{text!r}: {response.status_code} {response.content[:300]!r}")
        payload = response.json()
        manual = payload["status"] == "handed_off" and (
            _ticket_reason(client=client, api_key=api_key, conversation_id=payload["id"]) == "manual"
        )
        handed_off += manual
        correct += manual and asks
        if manual != asks:
            misread.append(f"{'+' if asks else '-'} {text}")
    requests = sum(asks for _text, asks in examples)
    return IntentScore(name, len(examples), requests, handed_off, correct, tuple(misread))


def intent_lines(scores: Sequence[IntentScore]) -> list[str]:
    lines = ["| request-for-a-human set | messages | precision | recall |", "|---|---|---|---|"]
    lines += [f"| {s.name} | {s.total} ({s.requests} requests) | {s.precision:.3f} | {s.recall:.3f} |" for s in scores]
    for score in scores:
        lines += [f"- misread in the {score.name}: {text}" for text in score.misread]
    return lines


def handoff_figures(context: Any) -> list[tuple[str, str]]:
    """Rows for ``bench/answers.py``: handoff intent (both labelled sets) and whole conversations, played in
    the workspace of ``context`` (``client``, ``app_id``, ``api_key``). The conversations are written over the
    Zulip help center: played over another one, their figure says little."""
    client, app_id, api_key = context.client, context.app_id, context.api_key
    rows = []
    first = 0
    for name, path in (("labelled", HUMAN_REQUESTS), ("held-out", HUMAN_REQUESTS_HELD_OUT)):
        examples = intent_examples_load(path)
        score = intent_play(
            client=client, app_id=app_id, api_key=api_key, name=name, examples=examples, first_address=first
        )
        first += len(examples)
        rows.append(
            (
                f"handoff intent, {name} set ({score.total})",
                f"precision {score.precision:.3f}, recall {score.recall:.3f}",
            )
        )
    played = conversations_play(client=client, app_id=app_id, api_key=api_key, conversations=conversations_load())
    conversation_score = conversations_score(played)
    rows.append(
        (
            f"whole conversations ({conversation_score.total})",
            f"precision {conversation_score.precision:.3f}, recall {conversation_score.recall:.3f}, "
            f"exact turn {conversation_score.exact_turn:.3f}",
        )
    )
    return rows


# --- Standalone run -----------------------------------------------------------------------------------


def _setup_django(data_dir: Path) -> None:
    if "DATABASE_URL" not in os.environ:
        os.environ["HALO_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _workspace(company: str) -> tuple[str, str]:
    """A fresh workspace named ``company`` with its first agent (default settings) and an API key: (app_id,
    api key)."""
    from agents.services import agent_create
    from halo.models import Workspace
    from halo.services import api_key_create

    slug = f"bench-conversations-{int(time.time())}"
    workspace = Workspace.objects.create(name=company, slug=slug, allowed_origins=[])
    agent_create(workspace=workspace, name="Bench")
    return workspace.app_id, api_key_create(workspace=workspace)[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=Path, default=CONVERSATIONS)
    parser.add_argument("--articles", type=Path, default=ZULIP_ARTICLES)
    parser.add_argument("--verbose", action="store_true", help="print every transcript")
    parser.add_argument("--company", default=ZULIP, help="the workspace's name: the company the help center is for")
    parser.add_argument("--vector-cache", type=Path, help="a pack of passage vectors (.npz) kept between runs")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="halo-bench-conversations-") as data_dir:
        _setup_django(Path(data_dir))
        if options.vector_cache:
            from bench.vector_pack import vector_cache_use

            vector_cache_use(options.vector_cache)
        from django.db import connection
        from rest_framework.test import APIClient

        app_id, api_key = _workspace(options.company)
        client = APIClient()
        articles = json.loads(options.articles.read_text(encoding="utf-8"))["articles"]
        started = time.perf_counter()
        loaded = help_center_load(client=client, api_key=api_key, articles=articles)
        loaded_in = time.perf_counter() - started
        conversations = conversations_load(options.conversations)
        started = time.perf_counter()
        played = conversations_play(client=client, app_id=app_id, api_key=api_key, conversations=conversations)
        played_in = time.perf_counter() - started
        score = conversations_score(played)
        messages = sum(len(p.turns) for p in played)
        intents = []
        first = len(conversations)
        for name, path in (("labelled set", HUMAN_REQUESTS), ("held-out set", HUMAN_REQUESTS_HELD_OUT)):
            examples = intent_examples_load(path)
            intents.append(
                intent_play(
                    client=client, app_id=app_id, api_key=api_key, name=name, examples=examples, first_address=first
                )
            )
            first += len(examples)
        print(f"Help center: {loaded} articles from {options.articles.name} in {loaded_in:.1f} s ({connection.vendor})")
        print(f"Played {messages} messages in {played_in:.1f} s; load average {os.getloadavg()[0]:.2f}")
        print()
        print("\n".join(report_lines(score, played, verbose=options.verbose)))
        print()
        print("\n".join(intent_lines(intents)))
    return 0 if score.meets_targets and all(intent.meets_targets for intent in intents) else 1


if __name__ == "__main__":
    sys.exit(main())
