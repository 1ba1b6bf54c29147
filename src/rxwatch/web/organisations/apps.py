from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "rxwatch.web.organisations"
    label = "organisations"
