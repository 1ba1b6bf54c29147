"""Who works where, in which role: organisations, PCNs, practices, memberships, scope of practice.

Access is by membership: a membership names an organisation and, for practice staff, one practice. A
membership without a practice is organisation-wide (a hub): it sees every practice of that organisation.
Hub leads and admins are always organisation-wide.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    TECHNICIAN = "technician", "Pharmacy technician"
    PHARMACIST = "pharmacist", "Clinical pharmacist"
    GP = "gp", "GP"
    PRACTICE_MANAGER = "practice_manager", "Practice manager"
    HUB_LEAD = "hub_lead", "Hub lead"
    ADMIN = "admin", "Administrator"


HUB_ROLES = (Role.ADMIN, Role.HUB_LEAD)  # a tuple, not a set: migrations need a stable order


class User(AbstractUser):
    """A person who signs in. Roles live on memberships, not here: the same person can be a
    pharmacist in one practice and a hub lead of the organisation."""

    class Meta:
        db_table = "organisations_user"

    @property
    def display_name(self) -> str:
        """How the person is named on timelines, measures and the API: full name, else username."""
        return self.get_full_name() or self.get_username()


class Organisation(models.Model):
    """An at-scale provider, federation or single practice running a monitoring programme."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class PCN(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="pcns")
    code = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=200)

    class Meta:
        verbose_name = "PCN"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="pcn_unique_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class Practice(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="practices"
    )
    pcn = models.ForeignKey(
        PCN, on_delete=models.PROTECT, related_name="practices", null=True, blank=True
    )
    ods_code = models.CharField("ODS code", max_length=10, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ods_code})"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    practice = models.ForeignKey(
        Practice,
        on_delete=models.PROTECT,
        related_name="memberships",
        null=True,
        blank=True,
        help_text="Empty for organisation-wide (hub) staff, who see every practice.",
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "practice", "role"], name="membership_unique"
            ),
            models.UniqueConstraint(
                fields=["user", "organisation", "role"],
                condition=Q(practice__isnull=True),
                name="membership_unique_hub",
            ),
            models.CheckConstraint(
                condition=Q(practice__isnull=True) | ~Q(role__in=[r.value for r in HUB_ROLES]),
                name="membership_hub_roles_are_organisation_wide",
            ),
        ]

    def clean(self) -> None:
        if self.practice_id and self.practice.organisation_id != self.organisation_id:
            raise ValidationError("the practice belongs to another organisation")

    def save(self, *args, **kwargs) -> None:
        self.clean()
        super().save(*args, **kwargs)

    @property
    def is_hub(self) -> bool:
        return self.practice_id is None

    def __str__(self) -> str:
        where = self.practice.ods_code if self.practice_id else f"all of {self.organisation.code}"
        return f"{self.user} — {self.get_role_display()} — {where}"


class ScopeOfPractice(models.Model):
    """One drug group (a rule's ``group``: dmard, lithium, anticoagulant…) in which a pharmacist may
    adjust doses. Outside it, a dose change is refused by the domain layer and must go to a GP."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="scope_of_practice")
    drug_group = models.CharField(max_length=50)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "scopes of practice"
        constraints = [
            models.UniqueConstraint(fields=["user", "drug_group"], name="scope_unique_group")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.drug_group}"
