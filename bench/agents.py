"""Agents benchmark: the builtin responder over a 1,000-article help center on PostgreSQL.

Measures, per widget message, in one process and one run:

- ``SELECT 1`` — the baseline: one database round trip on the same connection;
- ``knowledge_search`` — the ranked full-text query alone;
- ``builtin respond`` — the builtin responder (search + calibration + reply), what the AI costs;
- ``post message (service)`` — ``message_receive``: user message, AI turn, escalation judge;
- ``POST widget message (DRF)`` — the same through the widget API in process (auth, token check, JSON).

Each row is the median and p99 over ``--samples`` messages drawn from a fixed mix of questions (clear
matches, weak matches, nothing-fits, human-only topics), reported beside the baseline as a ratio.

    .venv/bin/python bench/agents.py [--samples 1000] [--articles 1000]

Uses ``DATABASE_URL`` if set, else ``postgres://postgres@127.0.0.1:5432/halo_bench_agents`` (created if
missing, migrated). Its data lives in a workspace ``bench-agents`` that is rebuilt on every run.
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/halo_bench_agents"
TARGET_RESPOND_MS = 50.0

QUESTIONS = [
    "How do I reset my password?",
    "where can I download my invoices",
    "Can I connect Slack?",
    "export data as csv",
    "How are seats billed when I add a teammate?",
    "turn on two factor authentication",
    "my card was declined",
    "do you support SSO with Okta",
    "restore a deleted project",
    "the app is very slow today",
    "how do webhooks get signed",
    "Which browsers are supported?",
    "I want a refund for last month",
    "please delete my account",
    "what is the meaning of life",
    "do you sell garden furniture",
    "zapier integration api key",
    "change my plan to annual billing",
    "I am not receiving notification emails",
    "where is my data stored, EU or US?",
]

TOPICS = [
    ("billing", ["invoice", "payment", "card", "plan", "seat", "refund", "tax", "discount", "renewal", "receipt"]),
    ("accounts", ["password", "login", "email", "role", "invite", "teammate", "sso", "profile", "security", "2fa"]),
    ("integrations", ["slack", "salesforce", "zapier", "webhook", "api", "teams", "drive", "sync", "token", "oauth"]),
    ("data", ["export", "import", "csv", "backup", "restore", "trash", "region", "retention", "report", "archive"]),
    ("troubleshooting", ["slow", "error", "browser", "cache", "mobile", "offline", "crash", "timeout", "login", "bug"]),
]
FILLER = (
    "Open the settings page and follow the steps below. Changes apply right away for everyone in the workspace. "
    "If something looks wrong, refresh the page and try again, or contact the support team from the chat."
)


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgres"):
        import psycopg

        name = url.rsplit("/", 1)[1]
        admin_url = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_help_center(article_count: int) -> tuple[object, object]:
    from agents.demo import ARTICLES
    from agents.knowledge import knowledge_reindex
    from agents.models import Agent, KnowledgeArticle
    from agents.services import agent_create
    from halo.models import Workspace

    Workspace.objects.filter(slug="bench-agents").delete()
    workspace = Workspace.objects.create(name="Bench", slug="bench-agents", allowed_origins=[])
    agent: Agent = agent_create(workspace=workspace, name="Bench")
    rng = random.Random(2026)
    rows = [
        KnowledgeArticle(workspace=workspace, title=title, body=body, url=f"https://help.bench/{n}")
        for n, (_section, title, body) in enumerate(ARTICLES)
    ]
    while len(rows) < article_count:
        section, words = rng.choice(TOPICS)
        picked = rng.sample(words, 3)
        title = f"{picked[0].title()} {picked[1]} and {picked[2]} ({section} guide {len(rows)})"
        body = " ".join(
            [f"This {section} article explains {picked[0]}, {picked[1]} and {picked[2]}.", FILLER]
            + [f"Step {step}: check the {rng.choice(words)} settings." for step in range(1, rng.randint(3, 8))]
        )
        rows.append(
            KnowledgeArticle(workspace=workspace, title=title, body=body, url=f"https://help.bench/{len(rows)}")
        )
    KnowledgeArticle.objects.bulk_create(rows)
    knowledge_reindex(workspace=workspace)
    from django.db import connection

    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum keeps them in production: every run deletes and re-creates the
        # workspace, and stale ones make the planner pick a slow plan for the search.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE agents_knowledgearticle")
    return workspace, agent


def timed(samples: int, run: Callable[[str], object]) -> list[float]:
    durations = []
    for n in range(samples):
        question = QUESTIONS[n % len(QUESTIONS)]
        started = time.perf_counter()
        run(question)
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=1000)
    options = parser.parse_args()
    setup_django()

    from django.db import connection
    from rest_framework.test import APIClient

    from agents.knowledge import knowledge_search
    from agents.models import Conversation, hash_conversation_token
    from agents.responders import BuiltinResponder, ConversationContext
    from escalation.flow import message_receive
    from halo.models import Contact

    workspace, agent = build_help_center(options.articles)
    contact = Contact.objects.create(workspace=workspace, user_id="bench-user")
    responder = BuiltinResponder()

    def select_one(question: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def search(question: str) -> None:
        knowledge_search(workspace=workspace, text=question, limit=3)

    def respond(question: str) -> None:
        context = ConversationContext(
            workspace=workspace, agent=agent, conversation_id=0, history=(("user", question),), user_message=question
        )
        responder.respond(context=context)

    def new_conversation() -> Conversation:
        # A fresh conversation every 5 messages, so the escalation gates see realistic turn counts.
        return Conversation.objects.select_related("workspace", "agent", "contact").get(
            pk=Conversation.objects.create(
                workspace=workspace, contact=contact, agent=agent, token_hash=hash_conversation_token("bench-token")
            ).pk
        )

    state = {"conversation": new_conversation(), "count": 0}

    def post(question: str) -> None:
        if state["count"] % 5 == 4:
            state["conversation"] = new_conversation()
        state["count"] = int(state["count"]) + 1
        conversation = state["conversation"]
        assert isinstance(conversation, Conversation)
        conversation.status = Conversation.Status.OPEN
        message_receive(conversation=conversation, body=question)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer bench-token")
    widget_state = {"conversation": new_conversation(), "count": 0}

    def post_widget(question: str) -> None:
        if widget_state["count"] % 5 == 4:
            widget_state["conversation"] = new_conversation()
        widget_state["count"] = int(widget_state["count"]) + 1
        conversation = widget_state["conversation"]
        assert isinstance(conversation, Conversation)
        response = client.post(
            f"/api/widget/v1/conversations/{conversation.pk}/messages", {"body": question}, format="json"
        )
        assert response.status_code == 201, response.content

    from django.conf import settings

    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["widget"] = "1000000/min"
    from escalation.api.widget.auth import WidgetRateThrottle

    WidgetRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]

    rows = []
    for label, run in [
        ("SELECT 1 (baseline)", select_one),
        ("knowledge_search", search),
        ("builtin respond", respond),
        ("post message (service)", post),
        ("POST widget message (DRF)", post_widget),
    ]:
        timed(min(50, options.samples), run)  # warm up
        durations = timed(options.samples, run)
        rows.append((label, statistics.median(durations), p99(durations)))

    base = rows[0][1]
    print(f"\n{options.articles} articles, {options.samples} samples per row, {connection.vendor}\n")
    print("| scenario | median ms | p99 ms | median / baseline |")
    print("|---|---|---|---|")
    for label, median, tail in rows:
        print(f"| {label} | {median:.2f} | {tail:.2f} | {median / base:.1f}x |")
    respond_median = rows[2][1]
    verdict = "pass" if respond_median < TARGET_RESPOND_MS else "FAIL"
    print(f"\nbuiltin respond median {respond_median:.2f} ms; target < {TARGET_RESPOND_MS:.0f} ms: {verdict}")
    return 0 if verdict == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
