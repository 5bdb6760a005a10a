"""S5: customer text is escaped wherever it is shown. This file sweeps what the app-level tests do not:
every admin list and change page and every inbox page, with markup in every customer-controlled field,
and the notification email's subject (one line: no header injection).

The app-level tests: inbox pages (``tests/inbox/test_views.py::test_customer_text_is_escaped_everywhere_on_the_pages``),
Slack mrkdwn (``tests/inbox/test_notifications.py::test_customer_text_is_escaped_for_slack``), the email's
HTML part (``tests/inbox/test_notifications.py::test_assignee_is_emailed_through_smtp``), the widget in a
real browser (``tests/agents/test_browser.py::test_user_text_is_shown_as_text_never_as_html``).
"""

import hashlib
import hmac

import pytest
from django.contrib import admin
from django.test import Client
from rest_framework.test import APIClient

from escalation.models import EscalationSettings
from halo.services import contact_upsert
from inbox.models import Ticket
from inbox.notifications.emails import assignment_email_build
from segments.models import Segment
from tests.halo.factories import UserFactory
from tests.security.conftest import Tenant

pytestmark = pytest.mark.django_db

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def hostile_ticket(ours: Tenant) -> Ticket:
    """A handoff whose every customer-controlled text carries markup."""
    EscalationSettings.objects.filter(agent=ours.agent).update(default_assignee=ours.teammate)
    contact_upsert(
        workspace=ours.workspace,
        user_id="hostile",
        data={
            "name": f"Eve {MARKUP}",
            "plan": MARKUP,
            "custom_fields": {"note": MARKUP},
            "company": {"company_id": "hostile-co", "name": f"Evil {MARKUP}", "industry": MARKUP},
        },
    )
    Segment.objects.create(workspace=ours.workspace, name=f"Seg {MARKUP}", rule='user.name contains "eve"')
    user_hash = hmac.new(ours.workspace.identity_secret.encode(), b"hostile", hashlib.sha256).hexdigest()
    widget = APIClient()
    started = widget.post(
        "/api/widget/v1/conversations",
        {
            "app_id": ours.workspace.app_id,
            "body": f"Help {MARKUP}",
            "user": {"user_id": "hostile", "user_hash": user_hash},
        },
        format="json",
    )
    assert started.status_code == 201, started.content
    auth = {"HTTP_AUTHORIZATION": f"Bearer {started.json()['token']}"}
    handed_off = widget.post(f"/api/widget/v1/conversations/{started.json()['id']}/handoff", **auth)
    assert handed_off.status_code == 201, handed_off.content
    return Ticket.objects.get(pk=handed_off.json()["ticket"]["id"])


def assert_escaped(html: str, where: str) -> None:
    assert "<script>alert" not in html, where
    assert "<img src=x" not in html, where


def test_every_admin_page_escapes_customer_text(hostile_ticket: Ticket) -> None:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    shown = 0
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages = [base, f"{base}?q=eve"] + [
            f"{base}{pk}/change/" for pk in model._default_manager.values_list("pk", flat=True)[:30]
        ]
        for page in pages:
            html = client.get(page).content.decode()
            assert_escaped(html, page)
            shown += "&lt;script&gt;alert" in html
    assert shown >= 5  # the markup was on the pages, escaped
    agent_page = client.get(f"/admin/escalation/escalationsettings/agent/{hostile_ticket.agent_id}/").content.decode()
    assert_escaped(agent_page, "Ticket Escalation page")


def test_every_inbox_page_escapes_customer_text(ours: Tenant, hostile_ticket: Ticket) -> None:
    staff = ours.staff_client()
    pages = [f"/inbox/{key}/" for key in ("open", "priority", "unassigned", "mine", "closed")]
    pages += [
        f"/inbox/tickets/{hostile_ticket.pk}/",
        f"/inbox/tickets/{hostile_ticket.pk}/?partial=1",
        "/inbox/open/?partial=1",
    ]
    for page in pages:
        html = staff.get(page).content.decode()
        assert_escaped(html, page)
    assert "&lt;script&gt;alert" in staff.get(f"/inbox/tickets/{hostile_ticket.pk}/").content.decode()


def test_notification_email_subject_is_one_line_whatever_the_name(ours: Tenant, hostile_ticket: Ticket) -> None:
    hostile_ticket.contact.name = "Eve\r\nBcc: victim@example.com\r\n\r\n<b>hi</b>"
    hostile_ticket.contact.save(update_fields=["name"])

    email = assignment_email_build(ticket=hostile_ticket, message_id="<test@halo.invalid>")
    message = email.message()

    assert "\n" not in email.subject
    assert "\r" not in email.subject
    assert message["Bcc"] is None
    html = email.alternatives[0][0]
    assert "<b>hi</b>" not in html
