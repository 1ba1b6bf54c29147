from django.apps import AppConfig


class ScorecardsConfig(AppConfig):
    name = "rxwatch.web.scorecards"
    label = "scorecards"
    verbose_name = "Scorecards"
