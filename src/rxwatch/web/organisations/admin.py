"""Admin for setting up people and practices only. Cases and audit events are deliberately absent:
the admin's staff check knows nothing of practices, so patient data is reachable only through the
access-checked app and API."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

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


@admin.register(User)
class RxWatchUserAdmin(UserAdmin):
    inlines = [MembershipInline, ScopeInline]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(PCN)
class PCNAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation"]


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["ods_code", "name", "organisation", "pcn"]
    search_fields = ["ods_code", "name"]
