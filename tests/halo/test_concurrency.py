"""Concurrent upserts of one new contact: the database's unique constraints keep one contact and one company."""

import threading

import pytest
from django.db import connection

from halo.models import Company, Contact
from halo.services import contact_upsert
from tests.halo.factories import WorkspaceFactory


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_a_new_contact_create_one_contact_and_one_company():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("in-memory SQLite serialises every connection; the race needs PostgreSQL or a file")
    workspace = WorkspaceFactory()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def upsert(n: int) -> None:
        try:
            start.wait()
            contact_upsert(
                workspace=workspace,
                user_id="racer",
                data={"name": f"Racer {n}", "company": {"company_id": "acme", "name": "Acme"}},
            )
        except BaseException as error:  # collected and asserted on below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert Contact.objects.filter(workspace=workspace, user_id="racer").count() == 1
    assert Company.objects.filter(workspace=workspace, company_id="acme").count() == 1
