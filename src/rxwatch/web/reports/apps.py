from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "rxwatch.web.reports"
    label = "reports"
    verbose_name = "Reports"
