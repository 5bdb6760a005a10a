"""Factories for workspaces, members, companies and contacts."""

import factory
from django.contrib.auth import get_user_model

from halo.models import Company, Contact, Membership, Workspace


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    workspace = factory.SubFactory(WorkspaceFactory)
    role = Membership.Role.TEAMMATE


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    workspace = factory.SubFactory(WorkspaceFactory)
    company_id = factory.Sequence(lambda n: f"co-{n}")
    name = factory.Sequence(lambda n: f"Company {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    workspace = factory.SubFactory(WorkspaceFactory)
    user_id = factory.Sequence(lambda n: f"user-{n}")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    name = factory.Sequence(lambda n: f"Contact {n}")
