from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "rxwatch.web.api"
    label = "api"
