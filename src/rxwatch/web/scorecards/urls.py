"""Scorecard pages. Practices, indicators and months are query parameters (``?practice=A81001``),
never path parameters: access is checked on each (a practice the user cannot see is a 404)."""

from django.urls import path

from rxwatch.web.scorecards import views

urlpatterns = [
    path("scorecards/", views.practice_scorecard, name="scorecard"),
    path("scorecards/organisation/", views.organisation_scorecard, name="scorecard_organisation"),
    path("scorecards/patients/", views.patients, name="scorecard_patients"),
    path("scorecards/workflow/", views.workflow_measures, name="scorecard_workflow"),
]
