"""The contacts server API: idempotent upserts, bad input, activity events."""

from datetime import timedelta

import pytest
from django.utils import timezone

from halo.models import Company, Contact, PageView

FULL_CONTACT = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "role": "owner",
    "plan": "pro",
    "custom_fields": {"is_vip": True, "seats": 12, "region": "eu"},
    "company": {
        "company_id": "acme",
        "name": "Acme",
        "plan": "enterprise",
        "employee_count": 120,
        "mrr": 4900,
        "industry": "Software",
        "custom_fields": {"tier": "gold"},
    },
    "stripe": {"subscription_status": "active", "mrr": 49, "lifetime_value": 1176.5},
}


def put_contact(api, user_id, data):
    return api.put(f"/api/v1/contacts/{user_id}", data, format="json")


@pytest.mark.django_db
def test_put_creates_a_contact_with_company_and_stripe_data(api, workspace):
    response = put_contact(api, "u-1", FULL_CONTACT)

    assert response.status_code == 201
    body = response.json()
    assert body["user_id"] == "u-1"
    assert body["email"] == "ada@example.com"
    assert body["custom_fields"] == {"is_vip": True, "seats": 12, "region": "eu"}
    assert body["company"]["company_id"] == "acme"
    assert body["company"]["mrr"] == 4900
    assert body["stripe"] == {"subscription_status": "active", "mrr": 49, "lifetime_value": 1176.5}
    contact = Contact.objects.get(workspace=workspace, user_id="u-1")
    assert contact.company is not None
    assert contact.company.industry == "Software"


@pytest.mark.django_db
def test_same_put_twice_leaves_one_contact_and_one_company(api, workspace):
    first = put_contact(api, "u-1", FULL_CONTACT)
    second = put_contact(api, "u-1", FULL_CONTACT)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Contact.objects.filter(workspace=workspace).count() == 1
    assert Company.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db
def test_two_contacts_of_one_company_share_the_company_row(api, workspace):
    put_contact(api, "u-1", {"company": {"company_id": "acme", "name": "Acme"}})
    put_contact(api, "u-2", {"company": {"company_id": "acme", "plan": "enterprise"}})

    company = Company.objects.get(workspace=workspace)
    assert (company.name, company.plan) == ("Acme", "enterprise")
    assert company.contacts.count() == 2


@pytest.mark.django_db
def test_absent_fields_are_kept_and_null_or_empty_clears(api, workspace):
    put_contact(api, "u-1", FULL_CONTACT)

    response = put_contact(api, "u-1", {"name": "", "role": None, "custom_fields": {"seats": None, "region": ""}})

    body = response.json()
    assert response.status_code == 200
    assert body["email"] == "ada@example.com"
    assert body["name"] is None
    assert body["role"] is None
    assert body["custom_fields"] == {"is_vip": True}
    contact = Contact.objects.get(user_id="u-1")
    assert contact.name is None  # stored as NULL, never ""


@pytest.mark.django_db
def test_company_null_unlinks_the_company(api, workspace):
    put_contact(api, "u-1", FULL_CONTACT)

    body = put_contact(api, "u-1", {"company": None}).json()

    assert body["company"] is None
    assert Company.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"custom_fields": {"has space": 1}}, "custom_fields"),
        ({"custom_fields": {"nested": {"a": 1}}}, "custom_fields"),
        ({"custom_fields": {"tags": ["a", "b"]}}, "custom_fields"),
        ({"custom_fields": {"1st": True}}, "custom_fields"),
        ({"custom_fields": {"note": "x" * 1001}}, "custom_fields"),
        ({"custom_fields": {f"k{i}": i for i in range(101)}}, "custom_fields"),
        ({"custom_fields": ["not", "an", "object"]}, "custom_fields"),
        ({"company": {"name": "No id"}}, "company"),
        ({"company": {"company_id": "acme", "employee_count": -3}}, "company"),
        ({"stripe": {"mrr": "lots"}}, "stripe"),
        ({"last_active_at": "yesterday"}, "last_active_at"),
        ({"name": "x" * 256}, "name"),
        ({"custom_field": {"typo": 1}}, "custom_field"),
        ({"name": 42}, "name"),
        ({"company": {"company_id": 7}}, "company"),
        ({"company": {"company_id": "acme", "employee_count": "12"}}, "company"),
        ({"stripe": {"mrr": "49.00"}}, "stripe"),
        ({"last_active_at": "2999-01-01T00:00:00Z"}, "last_active_at"),
    ],
)
def test_bad_input_is_a_400_with_field_errors_and_writes_nothing(api, workspace, data, field):
    response = put_contact(api, "u-1", {**FULL_CONTACT, **data})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"]
    assert body["message"]
    assert not Contact.objects.exists()
    assert not Company.objects.exists()


@pytest.mark.django_db
def test_invalid_update_leaves_the_stored_contact_unchanged(api, workspace):
    put_contact(api, "u-1", FULL_CONTACT)

    response = put_contact(api, "u-1", {"name": "Changed", "company": {"company_id": "new", "mrr": "NaN-ish"}})

    assert response.status_code == 400
    contact = Contact.objects.get(user_id="u-1")
    assert contact.name == "Ada Lovelace"
    assert not Company.objects.filter(company_id="new").exists()


@pytest.mark.django_db
def test_body_that_is_not_json_is_a_400(api):
    response = api.put("/api/v1/contacts/u-1", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.django_db
def test_get_reads_back_a_contact_and_404s_an_unknown_one(api):
    put_contact(api, "u-1", {"name": "Ada"})

    assert api.get("/api/v1/contacts/u-1").json()["name"] == "Ada"
    missing = api.get("/api/v1/contacts/nobody")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


@pytest.mark.django_db
def test_page_view_records_the_visit_and_moves_last_active_at(api, workspace):
    put_contact(api, "u-1", {"name": "Ada"})
    when = timezone.now() - timedelta(minutes=3)

    response = api.post(
        "/api/v1/contacts/u-1/events", {"type": "page_view", "url": "/pricing", "occurred_at": when}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["recorded"] == 1
    contact = Contact.objects.get(user_id="u-1")
    assert contact.last_active_at == when
    assert list(contact.page_views.values_list("url", flat=True)) == ["/pricing"]


@pytest.mark.django_db
def test_an_older_event_never_moves_last_active_at_back(api):
    put_contact(api, "u-1", {"name": "Ada"})
    recent, old = timezone.now() - timedelta(minutes=1), timezone.now() - timedelta(days=2)

    api.post("/api/v1/contacts/u-1/events", {"type": "page_view", "url": "/a", "occurred_at": recent}, format="json")
    api.post("/api/v1/contacts/u-1/events", {"type": "page_view", "url": "/b", "occurred_at": old}, format="json")

    assert Contact.objects.get(user_id="u-1").last_active_at == recent


@pytest.mark.django_db
def test_a_batch_of_events_is_recorded_all_or_nothing(api):
    put_contact(api, "u-1", {"name": "Ada"})
    good = {"type": "page_view", "url": "/docs"}

    ok = api.post("/api/v1/contacts/u-1/events", {"events": [good, good]}, format="json")
    bad = api.post("/api/v1/contacts/u-1/events", {"events": [good, {"type": "click", "url": "/x"}]}, format="json")

    assert ok.status_code == 201
    assert ok.json()["recorded"] == 2
    assert bad.status_code == 400
    assert PageView.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "event",
    [
        {"type": "page_view"},
        {"type": "page_view", "url": ""},
        {"type": "signup", "url": "/"},
        {"type": "page_view", "url": "/", "occurred_at": "2999-01-01T00:00:00Z"},
        {"type": "page_view", "url": "/" + "x" * 2048},
        {"type": "page_view", "url": 0},
    ],
)
def test_bad_event_is_a_400(api, event):
    put_contact(api, "u-1", {"name": "Ada"})

    response = api.post("/api/v1/contacts/u-1/events", event, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not PageView.objects.exists()


@pytest.mark.django_db
def test_event_for_an_unknown_contact_is_a_404(api):
    response = api.post("/api/v1/contacts/ghost/events", {"type": "page_view", "url": "/"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "contact_not_found"
    assert not Contact.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/api/v1/contacts/u%00x", {"name": "Ada"}),
        ("/api/v1/contacts/u%0Ax", {"name": "Ada"}),
        ("/api/v1/contacts/u-1", {"custom_fields": {"note": "x\u0000y"}}),
        ("/api/v1/contacts/u-1", {"company": {"company_id": "a\u0000"}}),
        ("/api/v1/contacts/u-1", {"name": "nul\u0000name"}),
    ],
)
def test_nul_and_control_characters_are_a_400_not_a_server_error(api, path, data):
    response = api.put(path, data, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Contact.objects.exists()
