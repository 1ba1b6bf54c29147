"""Admin for setting up people and practices only. Cases and audit events are deliberately absent:
the admin's staff check knows nothing of practices, so patient data is reachable only through the
access-checked app and API. Every save and delete here is audited (``organisations.actions``)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from rxwatch.web.organisations import actions
from rxwatch.web.organisations.models import (
    PCN,
    Membership,
    Organisation,
    Practice,
    ScopeOfPractice,
    User,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


class ScopeInline(admin.TabularInline):
    model = ScopeOfPractice
    extra = 0


class AuditedAdmin(admin.ModelAdmin):
    """Audits saves and deletes of the object itself and of its inline memberships and scopes."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        actions.record_change(by=request.user, obj=obj, change="changed" if change else "created")

    def delete_model(self, request, obj):
        actions.record_change(by=request.user, obj=obj, change="deleted")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The admin's delete action runs outside a transaction (its change and delete pages run
        # inside one): the audit events and the deletion stand or fall together.
        with transaction.atomic():
            for obj in queryset:
                actions.record_change(by=request.user, obj=obj, change="deleted")
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            if isinstance(obj, Membership):
                actions.revoke_membership(by=request.user, membership=obj)
            elif isinstance(obj, ScopeOfPractice):
                actions.revoke_scope(by=request.user, scope=obj)
            else:
                obj.delete()
        for obj in instances:
            new = obj.pk is None
            if new and isinstance(obj, Membership):
                actions.grant_membership(
                    by=request.user,
                    user=obj.user,
                    role=obj.role,
                    organisation=obj.organisation,
                    practice=obj.practice,
                )
            elif new and isinstance(obj, ScopeOfPractice):
                actions.grant_scope(by=request.user, user=obj.user, drug_group=obj.drug_group)
            else:
                obj.save()
                actions.record_change(by=request.user, obj=obj, change="changed")
        formset.save_m2m()


@admin.register(User)
class RxWatchUserAdmin(AuditedAdmin, UserAdmin):
    inlines = [MembershipInline, ScopeInline]


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ["code", "name"]


@admin.register(PCN)
class PCNAdmin(AuditedAdmin):
    list_display = ["name", "organisation"]


@admin.register(Practice)
class PracticeAdmin(AuditedAdmin):
    list_display = ["ods_code", "name", "organisation", "pcn"]
    search_fields = ["ods_code", "name"]
