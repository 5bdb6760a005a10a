"""Answers benchmark: does the builtin AI answer from the right article, and does its confidence mean something?

Loads a help center through the public knowledge API (``POST /api/v1/knowledge/articles``) into a fresh
workspace of a fresh database, runs the embedding jobs the saves queued (the outbox, as a worker would),
then asks every question through the widget API (``POST /api/widget/v1/conversations``, one conversation
each) and reads the AI's turn back through ``GET /api/v1/conversations/{id}``:

- top-1 / top-3 / MRR (of the first 3): where an expected article is among the turn's knowledge sources;
- AUC: how well the confidence separates answerable questions from unanswerable ones;
- ECE: expected calibration error over 10 bins, of the confidence (as a probability) against whether the
  reply answered from the help center (an answerable question whose reply cites an expected article);
- false refusals: answerable questions whose reply cites nothing;
- the median answer time (the widget POST, in process: no network, no server).

    .venv/bin/python bench/answers.py --articles PATH_OR_demo --questions FILE [FILE ...]
        [--database sqlite|postgres] [--embeddings local|off] [--png reliability.png] [--json results.json]
        [--vector-cache FILE]

``--articles`` is a JSON file ``{"articles": [{"slug", "title", "url", "body"}]}`` (Zulip's help center in
this format: docs/answers.md says where to get it) or ``demo`` (the demo workspace's help center,
``agents/demo.py``). Question files hold ``{"questions": [{"q", "expect": [slug…]}], "unanswerable": [q…]}``;
several may be given, each is reported on its own. ``--database postgres`` uses ``BENCH_PG`` (default
``postgres://postgres@127.0.0.1:5432``) and a database ``test_<BENCH_ANSWERS_DB>`` (default
``halo_bench_answers``) created for the run and dropped after. The PNG is the reliability diagram.
``--vector-cache FILE`` keeps the passages' vectors between runs in a pack (``bench/vector_pack.py``; embedding
Zulip's help center takes minutes of CPU, and ``bench/data/zulip-help/vectors.npz`` already holds it; the
questions are embedded every time).

Handoff figures (handoff-intent precision/recall, whole conversations) come from ``bench/conversations.py``
when that file exists: it is imported and its ``handoff_figures(context)`` is called (see
``HANDOFF_HOOK``).
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HANDOFF_HOOK = ROOT / "bench" / "conversations.py"


@dataclass
class Outcome:
    question: str
    expect: list[str]  # empty: unanswerable
    ranked: list[str]  # slugs of the turn's knowledge sources, best first
    cited: list[str]  # slugs the reply cites
    confidence: int | None
    reply: str
    seconds: float

    @property
    def answerable(self) -> bool:
        return bool(self.expect)

    @property
    def answered(self) -> bool:
        """The reply answers from the help center: it cites an expected article."""
        return self.answerable and bool(set(self.cited) & set(self.expect))


@dataclass
class Context:
    """What the handoff hook gets: an API client, the workspace's keys, and a way to post widget messages."""

    client: Any
    app_id: str
    api_key: str
    workspace_id: int
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)


def slug_of(url: str, by_url: dict[str, str]) -> str:
    return by_url.get(url) or urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def demo_articles() -> list[dict[str, str]]:
    from agents.demo import ARTICLES, HELP_CENTER_URL, _slug

    return [
        {"slug": _slug(title), "title": title, "url": HELP_CENTER_URL + _slug(title), "body": body}
        for _section, title, body in ARTICLES
    ]


def auc(positives: list[float], negatives: list[float]) -> float:
    """Mann-Whitney AUC: the chance that a random positive outranks a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def calibration_bins(pairs: list[tuple[float, bool]], bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean confidence, share right, count) per equal-width bin of confidence, empty bins left out."""
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for probability, right in pairs:
        groups[min(int(probability * bins), bins - 1)].append((probability, right))
    return [
        (statistics.fmean(p for p, _ in group), sum(r for _, r in group) / len(group), len(group))
        for group in groups
        if group
    ]


def ece(pairs: list[tuple[float, bool]], bins: int = 10) -> float:
    total = len(pairs)
    return sum(count / total * abs(mean - share) for mean, share, count in calibration_bins(pairs, bins))


def figures(outcomes: list[Outcome]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]

    def rank(o: Outcome) -> int | None:
        return next((i for i, slug in enumerate(o.ranked[:3]) if slug in o.expect), None)

    ranks = [rank(o) for o in answerable]
    pairs = [((o.confidence or 0) / 100, o.answered) for o in outcomes]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "top1": sum(r == 0 for r in ranks) / len(ranks) if ranks else float("nan"),
        "top3": sum(r is not None for r in ranks) / len(ranks) if ranks else float("nan"),
        "mrr": sum(1 / (r + 1) for r in ranks if r is not None) / len(ranks) if ranks else float("nan"),
        "auc": auc([o.confidence or 0 for o in answerable], [o.confidence or 0 for o in unanswerable]),
        "ece": ece(pairs),
        "answered": sum(o.answered for o in answerable) / len(answerable) if answerable else float("nan"),
        "refused": sum(not o.cited for o in answerable) / len(answerable) if answerable else float("nan"),
        "median_ms": statistics.median(o.seconds for o in outcomes) * 1000,
    }


def reliability_png(path: Path, series: dict[str, list[Outcome]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 5.5), dpi=120)
    axis.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfectly calibrated")
    for label, outcomes in series.items():
        points = calibration_bins([((o.confidence or 0) / 100, o.answered) for o in outcomes])
        axis.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o",
            label=f"{label} (ECE {ece([((o.confidence or 0) / 100, o.answered) for o in outcomes]):.3f})",
        )
        for mean, share, count in points:
            axis.annotate(str(count), (mean, share), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axis.set_xlabel("confidence / 100")
    axis.set_ylabel("share of replies that answered from the help center")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_title("Reliability of the builtin AI's confidence")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def setup(database: str, embeddings: str) -> None:
    os.environ["HALO_EMBEDDINGS"] = embeddings
    # Hundreds of questions from one address within a minute: the rate limits would refuse them.
    os.environ["THROTTLE_WIDGET"] = os.environ["THROTTLE_WORKSPACE"] = "1000000/min"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halo.settings")
    if database == "postgres":
        server = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
        os.environ["DATABASE_URL"] = f"{server}/{os.environ.get('BENCH_ANSWERS_DB', 'halo_bench_answers')}"
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["HALO_DATA_DIR"] = tempfile.mkdtemp(prefix="halo_bench_answers_")
    import django

    django.setup()


def load_help_center(articles: list[dict[str, str]], company: str = "Zulip") -> Context:
    """A workspace named ``company`` (the company whose help center it is) with the articles saved through
    the API, and their embedding jobs run."""
    from io import StringIO

    from django.core.management import call_command
    from rest_framework.test import APIClient

    from agents.tasks import knowledge_embed_task
    from halo.models import OutboxMessage

    out = StringIO()
    call_command(
        "create_workspace", company, "--admin-email", "bench@example.com", "--admin-password", "x" * 16, stdout=out
    )
    created = json.loads(out.getvalue())
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {created['api_key']}"}
    for article in articles:
        response = client.post(
            "/api/v1/knowledge/articles",
            {"title": article["title"], "body": article["body"], "url": article["url"]},
            format="json",
            **headers,
        )
        if response.status_code != 201:
            raise SystemExit(f"article {article['slug']!r} refused: {response.status_code} {response.content[:300]!r}")
    started = time.perf_counter()
    pending = OutboxMessage.objects.filter(task="agents.tasks.knowledge_embed", state=OutboxMessage.State.PENDING)
    jobs = list(pending.values_list("pk", flat=True))
    for message_id in jobs:
        knowledge_embed_task(message_id)  # what a worker runs for each outbox message
    if jobs:
        print(f"embedding jobs: {len(jobs)} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return Context(
        client=client, app_id=created["app_id"], api_key=created["api_key"], workspace_id=created["workspace_id"]
    )


def ask(context: Context, question: str, expect: list[str], by_url: dict[str, str]) -> Outcome:
    client = context.client
    started = time.perf_counter()
    response = client.post("/api/widget/v1/conversations", {"app_id": context.app_id, "body": question}, format="json")
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"question {question!r} failed: {response.status_code} {response.content[:300]!r}")
    conversation = client.get(
        f"/api/v1/conversations/{response.json()['id']}", HTTP_AUTHORIZATION=f"Bearer {context.api_key}"
    ).json()
    turn = conversation["turns"][0] if conversation["turns"] else {}
    reply = next((m for m in conversation["messages"] if m["author"] == "ai"), None)
    return Outcome(
        question=question,
        expect=expect,
        ranked=[slug_of(source["url"], by_url) for source in turn.get("knowledge_sources", [])],
        cited=[slug_of(source["url"], by_url) for source in (reply or {}).get("sources", [])],
        confidence=turn.get("confidence"),
        reply=(reply or {}).get("body", ""),
        seconds=seconds,
    )


def handoff_figures(context: Context) -> list[tuple[str, str]]:
    """Rows from ``bench/conversations.py`` (handoff intent, whole conversations), when it exists."""
    if not HANDOFF_HOOK.exists():
        return [("handoff figures", f"not measured: {HANDOFF_HOOK.relative_to(ROOT)} is absent")]
    spec = importlib.util.spec_from_file_location("bench_conversations", HANDOFF_HOOK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return list(module.handoff_figures(context))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", required=True, help="articles.json, or 'demo'")
    parser.add_argument("--questions", required=True, nargs="+", type=Path)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--embeddings", choices=["local", "off"], default="local")
    parser.add_argument("--png", type=Path, help="write the reliability diagram here")
    parser.add_argument("--json", type=Path, help="write every question's outcome here")
    parser.add_argument("--verbose", action="store_true", help="print every question's outcome")
    parser.add_argument("--vector-cache", type=Path, help="a pack of passage vectors (.npz) kept between runs")
    options = parser.parse_args()

    setup(options.database, options.embeddings)
    if options.vector_cache:
        from bench.vector_pack import vector_cache_use

        vector_cache_use(options.vector_cache)
    from django.db import connection
    from django.test.utils import setup_test_environment

    from agents.knowledge.embeddings import local_embedder

    if options.articles == "demo":
        articles = demo_articles()
    else:
        articles = json.loads(Path(options.articles).read_text())["articles"]
    setup_test_environment()
    test_database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        if options.embeddings == "local" and local_embedder() is None:
            raise SystemExit("--embeddings local, but the model is not installed (requirements-model.txt)")
        context = load_help_center(articles, company="Acme" if options.articles == "demo" else "Zulip")
        by_url = {article["url"]: article["slug"] for article in articles}
        for path in options.questions:
            data = json.loads(path.read_text())
            items = [(q["q"], list(q["expect"])) for q in data["questions"]]
            items += [(q, []) for q in data.get("unanswerable", [])]
            context.outcomes[path.name] = [ask(context, question, expect, by_url) for question, expect in items]
        extra = handoff_figures(context)
    finally:
        connection.creation.destroy_test_db(test_database, verbosity=0)

    print(
        f"\nhelp center: {options.articles} ({len(articles)} articles); database: {connection.vendor}; "
        f"embeddings: {options.embeddings}; load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| questions | answerable / not | top-1 | top-3 | MRR@3 | AUC | ECE | answered | refused | median ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, outcomes in context.outcomes.items():
        f = figures(outcomes)
        print(
            f"| {name} | {f['answerable']} / {f['unanswerable']} | {f['top1']:.2f} | {f['top3']:.2f} | "
            f"{f['mrr']:.2f} | {f['auc']:.2f} | {f['ece']:.3f} | {f['answered']:.2f} | {f['refused']:.2f} | "
            f"{f['median_ms']:.1f} |"
        )
    for label, value in extra:
        print(f"{label}: {value}")
    if options.verbose:
        for name, outcomes in context.outcomes.items():
            for o in outcomes:
                mark = "ok " if o.answered else ("-- " if o.answerable else "   ")
                print(f"{mark}{o.confidence!s:>4} {name[:12]:12} {o.question[:70]:70} → {','.join(o.ranked)}")
    if options.png:
        reliability_png(options.png, context.outcomes)
        print(f"reliability diagram: {options.png}")
    if options.json:
        options.json.write_text(
            json.dumps({name: [o.__dict__ for o in outcomes] for name, outcomes in context.outcomes.items()}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
