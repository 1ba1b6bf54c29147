"""factory_boy factories for the workflow app. Patient ids and NHS numbers here are synthetic."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from rxwatch.web.cases.models import CaseStatus, FlagStatus, MonitoringCase, SearchRun
from rxwatch.web.organisations.models import (
    Membership,
    Organisation,
    Practice,
    Role,
    ScopeOfPractice,
    User,
)

AS_OF = dt.date(2026, 11, 23)


def nhs_number(n: int) -> str:
    """A synthetic NHS number that passes the modulus-11 check (9-digit stem from ``n``)."""
    n = 900_000_000 + n * 13  # spaced so that skipping an invalid stem never meets the next one
    while True:
        stem = f"{n:09d}"
        total = sum(int(d) * w for d, w in zip(stem, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return stem + str(check)
        n += 1


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"ORG{n}")
    name = factory.LazyAttribute(lambda o: f"Federation {o.code}")


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice
        django_get_or_create = ("ods_code",)

    organisation = factory.SubFactory(OrganisationFactory)
    ods_code = factory.Sequence(lambda n: f"A8{n:04d}")
    name = factory.LazyAttribute(lambda p: f"Practice {p.ods_code}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    practice = factory.SubFactory(PracticeFactory)
    organisation = factory.LazyAttribute(lambda m: m.practice.organisation)
    role = Role.TECHNICIAN


def staff(
    role: str,
    practice: Practice | None = None,
    *,
    organisation: Organisation | None = None,
    scope: tuple[str, ...] = (),
    username: str | None = None,
) -> User:
    """A user with one membership: of ``practice``, or organisation-wide when only ``organisation``."""
    user = UserFactory(**({"username": username} if username else {}))
    org = organisation or practice.organisation
    Membership.objects.create(user=user, organisation=org, practice=practice, role=role)
    for group in scope:
        ScopeOfPractice.objects.create(user=user, drug_group=group)
    return user


class SearchRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SearchRun

    as_of = AS_OF
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    backend = "duckdb"


class MonitoringCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MonitoringCase

    practice = factory.SubFactory(PracticeFactory)
    patient_id = factory.Sequence(lambda n: f"P{n:06d}")
    nhs_number = factory.Sequence(lambda n: nhs_number(n))
    rule_id = "methotrexate.fbc"
    rule = "methotrexate"
    drug_group = "dmard"
    status = CaseStatus.OPEN
    status_changed_at = factory.LazyFunction(timezone.now)
    flag_status = FlagStatus.OVERDUE
    reason = "Full blood count overdue"
    last_date = dt.date(2026, 6, 1)
    due_date = dt.date(2026, 9, 1)
    days_overdue = 83
    first_flagged_run = factory.SubFactory(SearchRunFactory)
    last_seen_run = factory.SelfAttribute("first_flagged_run")
    opened_at = factory.LazyFunction(timezone.now)
