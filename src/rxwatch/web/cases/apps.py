from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "rxwatch.web.cases"
    label = "cases"
