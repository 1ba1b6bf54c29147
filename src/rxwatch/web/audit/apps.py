from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "rxwatch.web.audit"
    label = "audit"
