"""URL map. The API lives under /api/ (OpenAPI at /api/docs and /api/openapi.json); HTML pages are
added by the web UI alongside. Path parameters that name objects follow one convention that the access
tests rely on: ``case_id``, ``escalation_id``, ``token_id`` (integers)."""

from django.contrib import admin
from django.urls import include, path

from rxwatch.web.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("rxwatch.web.pages_urls")),
    path("", include("rxwatch.web.scorecards.urls")),
    path("", include("rxwatch.web.reports.urls")),
]
