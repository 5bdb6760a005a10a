"""The demo workspace "Acme" and its people: admin and teammates, companies, contacts with traits and activity.

``manage.py seed_demo`` creates the workspace with ``demo_workspace_get_or_create`` and then calls each
app's ``seed(workspace)`` (this module's ``seed`` first). Everything here is deterministic and idempotent:
running it again updates the same rows instead of adding new ones. The logins are for a local demo only.
"""

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from halo.models import Contact, Membership, PageView, Workspace
from halo.services import contact_upsert, membership_set, page_views_record, user_get_or_create, workspace_create

DEMO_WORKSPACE_SLUG = "acme"
DEMO_ADMIN_EMAIL = "admin@acme.test"
DEMO_PASSWORD = "halo-demo-password"  # noqa: S105  (a local demo login, printed by seed_demo on purpose)
DEMO_TEAMMATES = [
    ("maya.chen@acme.test", Membership.Role.ADMIN),
    ("sam.okafor@acme.test", Membership.Role.TEAMMATE),
    ("lena.fischer@acme.test", Membership.Role.TEAMMATE),
]

# company_id, name, plan, employees, mrr, industry, region
COMPANIES = [
    ("globex", "Globex Corporation", "enterprise", 2400, "18500.00", "Manufacturing", "us"),
    ("initech", "Initech", "pro", 180, "2400.00", "Software", "us"),
    ("umbrella", "Umbrella Health", "enterprise", 5200, "32000.00", "Healthcare", "eu"),
    ("hooli", "Hooli", "pro", 950, "7900.00", "Software", "us"),
    ("stark", "Stark Logistics", "starter", 45, "290.00", "Logistics", "eu"),
    ("wayne", "Wayne Foods", "starter", 30, "190.00", "Food & beverage", "uk"),
    ("tyrell", "Tyrell Robotics", "enterprise", 760, "12800.00", "Hardware", "apac"),
    ("soylent", "Soylent Labs", "free", 8, "0.00", "Biotech", "eu"),
]

FIRST_NAMES = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Radia"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson"]
ROLES = ["owner", "admin", "developer", "member", "billing"]
PAGES = ["/", "/pricing", "/docs", "/docs/api", "/billing", "/settings/team", "/integrations/slack", "/changelog"]
STATUS_BY_PLAN = {"enterprise": "active", "pro": "active", "starter": "trialing", "free": None}
CONTACTS = 40
ANONYMOUS_VISITORS = 3


def demo_workspace_get_or_create() -> tuple[Workspace, str | None]:
    """The demo workspace, and its raw API key when it was just created (``None`` if it already existed)."""
    existing = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG).first()
    if existing is not None:
        return existing, None
    created = workspace_create(
        name="Acme",
        slug=DEMO_WORKSPACE_SLUG,
        admin_email=DEMO_ADMIN_EMAIL,
        admin_password=DEMO_PASSWORD,
        allowed_origins=["http://localhost:8000", "http://127.0.0.1:8000"],
    )
    return created.workspace, created.raw_api_key


@transaction.atomic
def seed(workspace: Workspace) -> None:
    """Teammates, ~8 companies and ~40 contacts with traits, custom fields, Stripe data and page views."""
    for email, role in DEMO_TEAMMATES:
        user, _ = user_get_or_create(email=email, password=DEMO_PASSWORD)
        if not user.first_name:
            user.first_name, user.last_name = email.split("@")[0].replace(".", " ").title().split(" ", 1)
            user.save(update_fields=["first_name", "last_name"])
        membership_set(workspace=workspace, user=user, role=role)

    rng = random.Random(2026)  # fixed seed: the same demo every time
    now = timezone.now()
    for n in range(CONTACTS):
        company = COMPANIES[n % len(COMPANIES)] if n % 7 != 6 else None  # a few users have no company
        first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n * 3) % len(LAST_NAMES)]
        plan = company[2] if company else rng.choice(["free", "starter"])
        seats = rng.randint(1, 50)
        data: dict[str, object] = {
            "email": f"{first}.{last}{n}@{company[0] if company else 'gmail'}.example".lower(),
            "name": f"{first} {last}",
            "role": ROLES[n % len(ROLES)],
            "plan": plan,
            "custom_fields": {
                "is_vip": n % 5 == 0,
                "seats": seats,
                "signup_source": rng.choice(["organic", "ads", "referral", "partner"]),
                "nps": rng.randint(0, 10),
                "beta_features": n % 4 == 0,
            },
            "stripe": {
                "subscription_status": STATUS_BY_PLAN[plan] if n % 9 != 8 else "past_due",
                "mrr": Decimal(seats * 12) if plan != "free" else Decimal(0),
                "lifetime_value": Decimal(seats * 12 * rng.randint(1, 30)),
            },
            "company": None,
        }
        if company:
            company_id, name, company_plan, employees, mrr, industry, region = company
            data["company"] = {
                "company_id": company_id,
                "name": name,
                "plan": company_plan,
                "employee_count": employees,
                "mrr": Decimal(mrr),
                "industry": industry,
                "custom_fields": {"region": region, "sso_enabled": company_plan == "enterprise"},
            }
        contact = contact_upsert(workspace=workspace, user_id=f"demo-user-{n + 1}", data=data).contact
        _seed_page_views(contact=contact, rng=rng, now=now)

    for n in range(ANONYMOUS_VISITORS):
        visitor, _ = Contact.objects.get_or_create(workspace=workspace, visitor_id=f"demo-visitor-{n + 1}")
        _seed_page_views(contact=visitor, rng=rng, now=now)


def _seed_page_views(*, contact: Contact, rng: random.Random, now: datetime) -> None:
    if PageView.objects.filter(contact=contact).exists():
        return
    last_seen = now - timedelta(days=rng.choice([0, 0, 1, 2, 5, 12, 40]), minutes=rng.randint(1, 600))
    views = [(rng.choice(PAGES), last_seen - timedelta(minutes=15 * i)) for i in range(rng.randint(1, 6))]
    page_views_record(contact=contact, views=views)
