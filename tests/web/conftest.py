"""Fixtures: one organisation with practices A and B, staff of A in every role, a hub lead, a case
in each practice, and an out-of-range lithium case in practice A (outside pharm_a's scope)."""

from __future__ import annotations

import pytest

from rxwatch.web.cases.models import FlagStatus
from rxwatch.web.organisations.models import Role

from .factories import MonitoringCaseFactory, OrganisationFactory, PracticeFactory, staff


@pytest.fixture
def org(db):
    return OrganisationFactory(code="FED1", name="Test Federation")


@pytest.fixture
def practice_a(org):
    return PracticeFactory(organisation=org, ods_code="A81001", name="Alpha Surgery")


@pytest.fixture
def practice_b(org):
    return PracticeFactory(organisation=org, ods_code="B82002", name="Beta Health Centre")


@pytest.fixture
def tech_a(practice_a):
    return staff(Role.TECHNICIAN, practice_a, username="tech_a")


@pytest.fixture
def pharm_a(practice_a):
    """A pharmacist whose scope of practice is DMARDs only."""
    return staff(Role.PHARMACIST, practice_a, scope=("dmard",), username="pharm_a")


@pytest.fixture
def gp_a(practice_a):
    return staff(Role.GP, practice_a, username="gp_a")


@pytest.fixture
def manager_a(practice_a):
    return staff(Role.PRACTICE_MANAGER, practice_a, username="manager_a")


@pytest.fixture
def hub_lead(org):
    return staff(Role.HUB_LEAD, organisation=org, username="hub_lead")


@pytest.fixture
def case_a(practice_a):
    return MonitoringCaseFactory(practice=practice_a)


@pytest.fixture
def case_b(practice_b):
    return MonitoringCaseFactory(practice=practice_b, reason="Practice B secret reason")


@pytest.fixture
def lithium_a(practice_a):
    """An out-of-range lithium level: outside pharm_a's scope of practice (DMARDs)."""
    return MonitoringCaseFactory(
        practice=practice_a,
        flag_status=FlagStatus.OUT_OF_RANGE,
        rule_id="lithium.level",
        rule="lithium",
        drug_group="lithium",
        reason="Lithium 1.3 mmol/L",
        last_value=1.3,
        days_overdue=None,
    )
