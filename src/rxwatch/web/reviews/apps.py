from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "rxwatch.web.reviews"
    label = "reviews"
