"""Demo conversations and tickets, made the way the widget makes them: through ``escalation.flow``.

Runs last in ``manage.py seed_demo`` (after the people, the agent and its help center, and the team
inboxes exist). A few conversations the AI answers (or fails to), three that hand off — a human-only topic
(the escalate tool), a request for a human (manual), a GDPR request — with a priority filter for
enterprise customers, and the earliest ticket answered and closed by a teammate, so the Closed list has an
example too. Then ``history_seed`` writes a month of past conversations and tickets in bulk, for the
escalation report. Idempotent: it does nothing once the workspace has a conversation.
"""

import random
from datetime import datetime, timedelta

from django.utils import timezone

from agents.models import Agent, Conversation, KnowledgeArticle, Message
from agents.services import SeedConversation, SeedTurn, conversations_seed
from escalation.flow import conversation_start
from escalation.services import escalation_settings_ensure, escalation_settings_update, report_rollups_update
from halo.identity import ContactIdentity
from halo.models import Contact, Membership, Workspace
from halo.services import contact_of_identity_resolve
from inbox.models import Ticket
from inbox.services import SeedTicket, ticket_reply, ticket_update, tickets_seed

SAMPLE_CONVERSATIONS = [
    ("demo-user-1", "How do I reset my password?"),
    ("demo-user-2", "Can I connect Slack to get notifications?"),
    ("demo-user-3", "I was charged twice and want a refund"),
    ("demo-user-4", "Do you integrate with SAP Concur for travel expenses?"),
]
# Each of these hands off: a human-only topic (the escalate tool), or a handoff phrase (manual).
ESCALATING_CONVERSATIONS = [
    ("demo-user-9", "Please cancel my account at the end of this month."),  # enterprise: priority
    ("demo-user-12", "Can I talk to a human about our last invoice?"),
    ("demo-user-18", "We need a GDPR request handled for a former employee."),
]
PRIORITY_FILTER = "company.plan = enterprise"
CLOSING_REPLY = "Sorry about that! I've refunded the duplicate charge; it will show on your card in 3-5 days."


def seed(workspace: Workspace) -> None:
    agent = Agent.objects.filter(workspace=workspace).order_by("id").first()
    if agent is None or Conversation.objects.filter(workspace=workspace).exists():
        return
    escalation_settings_update(
        escalation_settings=escalation_settings_ensure(agent=agent),
        data={"priority_filter": PRIORITY_FILTER},
        via="system",
    )
    for user_id, text in [*SAMPLE_CONVERSATIONS, *ESCALATING_CONVERSATIONS]:
        contact = Contact.objects.filter(workspace=workspace, user_id=user_id).first()
        if contact is None:
            contact = contact_of_identity_resolve(workspace=workspace, identity=ContactIdentity(user_id=user_id))
        conversation_start(workspace=workspace, agent=agent, contact=contact, body=text)

    teammate = Membership.objects.filter(workspace=workspace, role=Membership.Role.TEAMMATE).order_by("id").first()
    ticket = Ticket.objects.filter(workspace=workspace).order_by("id").first()
    if teammate is not None and ticket is not None:
        ticket_reply(ticket=ticket, teammate=teammate.user, body=CLOSING_REPLY)
        ticket_update(ticket=ticket, data={"status": Ticket.Status.CLOSED}, actor=teammate.user)
    history_seed(workspace)


# --- A month of history, so the escalation report shows something real on the first run ---------------

HISTORY_DAYS = 30
HISTORY_CONVERSATIONS = 320
# Asked of the AI, and what it could not answer well (low confidence, nothing in the help center).
UNANSWERABLE = [
    "Can I pay with PayPal?",
    "Is there a desktop app for Linux?",
    "Do you integrate with SAP Concur for travel expenses?",
    "What is your uptime guarantee for the EU region?",
    "Can I white-label the customer portal?",
    "Do you offer on-premise hosting?",
    "How do I migrate from Zendesk with attachments?",
]
HUMAN_ONLY = [
    ("I was charged twice this month and want a refund", "escalate_tool"),
    ("Please delete my account and all our data", "escalate_tool"),
    ("Can I talk to a human about our contract?", "manual"),
    ("Someone logged into our account from another country", "escalate_tool"),
    ("I need to speak to a person about an invoice dispute", "manual"),
]
TEAMMATE_REPLIES = [
    "Thanks for reaching out! I've taken care of this for you.",
    "I've looked into it: it's fixed on our side now, could you check again?",
    "Sorry for the trouble. I've sent the details to your email.",
]


def _question_of(title: str) -> str:
    """A customer's way of asking for an article: "How do I reset my password?" from "How to reset your
    password"."""
    text = title.replace("your ", "my ").replace("Your ", "My ")
    if text.lower().startswith("how to "):
        return f"How do I {text[7:]}?"
    if text.lower().startswith(("why ", "how ", "what ", "can ", "do ")):
        return f"{text}?"
    return f"How do I {text[0].lower()}{text[1:]}?"


def history_seed(workspace: Workspace, *, now: datetime | None = None, seed: int = 14) -> int:
    """A month of past conversations of the workspace's first agent, written in bulk through the owning apps'
    seeding services (``agents.services.conversations_seed``, ``inbox.services.tickets_seed``): answered,
    held back, escalated at once or after being held back, tickets replied to (mostly within their first-reply
    due time), re-opened, judged and rated. Then the report's rollups are counted. Returns how many
    conversations it wrote."""
    rng = random.Random(seed)
    now = now or timezone.now()
    agent = Agent.objects.filter(workspace=workspace).order_by("id").first()
    contacts = list(
        Contact.objects.filter(workspace=workspace, user_id__startswith="demo-user-").values_list("pk", flat=True)
    )
    teammates = list(Membership.objects.filter(workspace=workspace).values_list("user_id", flat=True))
    if agent is None or not contacts:
        return 0
    version = (
        escalation_settings_ensure(agent=agent).versions.order_by("version").values_list("version", flat=True).first()
    )
    articles = list(KnowledgeArticle.objects.filter(workspace=workspace, published=True).values_list("title", "url"))
    answerable = [(_question_of(title), title, url) for title, url in articles]
    plans: list[tuple[SeedConversation, dict[str, object] | None]] = []
    for n in range(HISTORY_CONVERSATIONS):
        # More conversations on weekdays and lately (a growing product), none in the last hour.
        day = HISTORY_DAYS - 1 - int(HISTORY_DAYS * rng.random() ** 1.3)
        started = now - timedelta(days=day + 1, hours=rng.uniform(-10, 10)) - timedelta(hours=1)
        contact_id = contacts[n % len(contacts)]
        kind = rng.choices(["answered", "held_resolved", "delayed", "escalated", "manual"], weights=[56, 12, 8, 16, 8])[
            0
        ]
        turns: list[SeedTurn] = []
        after: list[tuple[str, str, datetime, int | None]] = []
        at = started
        ticket: dict[str, object] | None = None
        question, title, url = rng.choice(answerable)
        if kind == "answered":
            turns.append(_answer(question, title, url, at, rng.randint(72, 96)))
        elif kind in ("held_resolved", "delayed"):
            first = rng.choice(UNANSWERABLE)
            rule = rng.choices(["gate_attempts", "gate_knowledge", "mode_off"], weights=[6, 3, 1])[0]
            turns.append(
                SeedTurn(
                    question=first,
                    reply="I'm not sure I have the right answer for that. Could you tell me more?",
                    at=at,
                    confidence=rng.randint(18, 48),
                    signals=("low_confidence",),
                    suppressed_by=rule,
                )
            )
            at += timedelta(minutes=rng.randint(1, 4))
            if kind == "held_resolved":
                turns.append(_answer(question, title, url, at, rng.randint(70, 90)))
            else:
                turns.append(
                    SeedTurn(
                        question="That doesn't help, I still need an answer",
                        reply="Let me connect you with a teammate.",
                        at=at,
                        confidence=rng.randint(15, 40),
                        signals=("low_confidence",),
                        escalated=True,
                        reason="low_confidence",
                    )
                )
                ticket = {"reason": "low_confidence", "held": 1}
        elif kind == "escalated":
            text, reason = rng.choice([*HUMAN_ONLY[:2], HUMAN_ONLY[3], (rng.choice(UNANSWERABLE), "low_confidence")])
            reason = "low_confidence" if reason == "manual" else reason
            turns.append(
                SeedTurn(
                    question=text,
                    reply="I'll get a teammate involved to help with this.",
                    at=at,
                    confidence=rng.randint(10, 45),
                    signals=(reason,),
                    escalated=True,
                    reason=reason,
                )
            )
            ticket = {"reason": reason, "held": 0}
        else:
            text = rng.choice([HUMAN_ONLY[2][0], HUMAN_ONLY[4][0]])
            after.append((Message.Author.USER, text, at, None))
            ticket = {"reason": "manual", "held": 0}
        if ticket is not None:
            opened = at + timedelta(seconds=5)
            wait = timedelta(minutes=rng.choice([3, 8, 15, 25, 40, 70, 150]))
            teammate = rng.choice(teammates) if teammates else None
            # Some customers find the answer themselves before a teammate replies (closed, rated, unanswered).
            replied = None if rng.random() < 0.12 else opened + wait
            if replied is not None:
                after.append((Message.Author.TEAMMATE, rng.choice(TEAMMATE_REPLIES), replied, teammate))
            ticket.update(
                opened=opened,
                replied=replied,
                due=opened + timedelta(hours=1),
                closed=opened + wait + timedelta(minutes=rng.randint(5, 120)),
                teammate=teammate,
            )
        status = Conversation.Status.CLOSED
        plans.append(
            (
                SeedConversation(
                    contact_id=contact_id,
                    agent_id=agent.pk,
                    started_at=started,
                    status=status,
                    turns=tuple(turns),
                    after=tuple(sorted(after, key=lambda message: message[2])),
                ),
                ticket,
            )
        )
    written = conversations_seed(workspace=workspace, conversations=[plan for plan, _ in plans])
    tickets = []
    for (plan, ticket), (conversation_id, turn_ids) in zip(plans, written, strict=True):
        if ticket is None:
            continue
        escalating = next((i for i, turn in enumerate(plan.turns) if turn.escalated), None)
        judged = ticket["reason"] in ("low_confidence", "escalate_tool") and rng.random() < 0.45
        tickets.append(
            SeedTicket(
                conversation_id=conversation_id,
                contact_id=plan.contact_id,
                agent_id=agent.pk,
                turn_id=turn_ids[escalating] if escalating is not None else None,
                reason=str(ticket["reason"]),
                confidence=plan.turns[escalating].confidence if escalating is not None else None,
                settings_version=version,
                created_at=ticket["opened"],  # type: ignore[arg-type]
                closed_at=ticket["closed"],  # type: ignore[arg-type]
                first_replied_at=ticket["replied"],  # type: ignore[arg-type]
                first_reply_due_at=ticket["due"],  # type: ignore[arg-type]
                rating_score=rng.choices([None, 5, 4, 3, 2, 1], weights=[50, 24, 12, 6, 4, 4])[0],
                verdict=(
                    ("ai_could_have_answered" if ticket["reason"] == "low_confidence" else "right_to_escalate")
                    if judged
                    else ""
                ),
                verdict_by_id=ticket["teammate"],  # type: ignore[arg-type]
                reopened_count=1 if rng.random() < 0.08 else 0,
                held_back_turns=int(ticket["held"]),  # type: ignore[call-overload]
                summary=f"The customer asked: {plan.turns[0].question if plan.turns else plan.after[0][1]}",
            )
        )
    tickets_seed(workspace=workspace, tickets=tickets)
    report_rollups_update(now=now)
    return len(plans)


def _answer(question: str, title: str, url: str, at: datetime, confidence: int) -> SeedTurn:
    return SeedTurn(
        question=question,
        reply=f"Here's how: see “{title}” in our help center.",
        at=at,
        confidence=confidence,
        knowledge_sources=({"title": title, "url": url, "score": round(confidence / 100, 2)},),
    )
