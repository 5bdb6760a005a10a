"""The django-helpdesk side of the peer benchmark, run with the peer's own Python (its venv):

    python helpdesk_setup.py build TICKETS   # migrate, then the data set (into PEER_DB_NAME)
    python helpdesk_setup.py login           # a staff session and API token; prints JSON

``build`` makes what Halo's side gets (``bench/peer_helpdesk.py``): one public queue; TICKETS tickets, 15%
open and the rest closed, each with one follow-up (the message that opened it), created one second apart;
and one more open ticket with 20 follow-ups (the single ticket page). Generated with ``INSERT … SELECT
generate_series``, then ``VACUUM ANALYZE`` (autovacuum is off on the development servers). ``login``
signs in a staff member (a database session, as the login form would make), gives them an API token and
a ticket list of 50 rows per page (Halo's page size), and prints the ids the benchmark needs.
"""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk_settings")
django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from helpdesk.models import FollowUp, Queue, Ticket, UserSettings  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

STAFF = "peer-staff"
THREAD_MESSAGES = 20
OPEN_SHARE_PERCENT = 15


def build(tickets: int) -> None:
    call_command("migrate", verbosity=0)
    queue, _ = Queue.objects.get_or_create(
        slug="support", defaults={"title": "Support", "allow_public_submission": True}
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO helpdesk_ticket (title, created, modified, submitter_email, status, on_hold, description,
                                            priority, queue_id, secret_key)
               SELECT 'Charged twice for invoice #' || g, now() - make_interval(secs => %(n)s - g),
                      now() - make_interval(secs => %(n)s - g), 'customer' || g || '@example.com',
                      CASE WHEN g %% 100 < %(open)s THEN %(open_status)s ELSE %(closed_status)s END, false,
                      'I was charged twice for invoice #' || g || '. Please refund one of the payments.',
                      3, %(queue)s, gen_random_uuid()::text
                 FROM generate_series(1, %(n)s) g""",
            {
                "n": tickets,
                "open": OPEN_SHARE_PERCENT,
                "open_status": Ticket.OPEN_STATUS,
                "closed_status": Ticket.CLOSED_STATUS,
                "queue": queue.pk,
            },
        )
        cursor.execute(
            """INSERT INTO helpdesk_followup (ticket_id, date, title, comment, public, email_recipients)
               SELECT id, created, 'Ticket Opened Via Web', description, true, '[]' FROM helpdesk_ticket"""
        )
        thread = Ticket.objects.create(
            title="Refund for a double charge",
            submitter_email="thread@example.com",
            status=Ticket.OPEN_STATUS,
            queue=queue,
            description="I was charged twice for my last invoice.",
            priority=3,
        )
        FollowUp.objects.bulk_create(
            [
                FollowUp(
                    ticket=thread,
                    title="Ticket Opened Via Web" if n == 0 else "Comment",
                    comment=f"Message {n + 1} of the thread about the double charge.",
                    public=True,
                    email_recipients=[],
                )
                for n in range(THREAD_MESSAGES)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(json.dumps({"tickets": Ticket.objects.count(), "thread_ticket": thread.pk}))


def login() -> None:
    user, _ = get_user_model().objects.get_or_create(
        username=STAFF, defaults={"email": "staff@peer.test", "is_staff": True}
    )
    UserSettings.objects.filter(user=user).update(tickets_per_page=50)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    token, _ = Token.objects.get_or_create(user=user)
    thread = Ticket.objects.filter(title="Refund for a double charge").order_by("-id").first()
    print(
        json.dumps(
            {
                "session": session.session_key,
                "token": token.key,
                "queue": Queue.objects.get(slug="support").pk,
                "thread_ticket": thread.pk if thread else None,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        build(int(sys.argv[2]))
    elif sys.argv[1:] == ["login"]:
        login()
    else:
        sys.exit(__doc__)
