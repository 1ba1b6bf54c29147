"""The HTML pages (the API is under /api/). Object ids in paths are ``case_id`` and
``escalation_id``, the convention the access tests enumerate."""

from pathlib import Path

from django.conf import settings
from django.urls import path, re_path
from django.views.static import serve

from rxwatch.web.audit import views as audit_views
from rxwatch.web.cases import views as case_views
from rxwatch.web.organisations import views as org_views
from rxwatch.web.reviews import views as review_views

urlpatterns = [
    path("accounts/login/", org_views.SignIn.as_view(), name="login"),
    path("accounts/logout/", org_views.SignOut.as_view(), name="logout"),
    path("", org_views.home, name="home"),
    path("practice/", org_views.switch_practice, name="switch_practice"),
    path("worklist/", case_views.worklist, name="worklist"),
    path("cases/<int:case_id>/", case_views.case_detail, name="case"),
    path(
        "cases/<int:case_id>/contact-attempt/", case_views.contact_attempt, name="contact_attempt"
    ),
    path("cases/<int:case_id>/booking/", case_views.booking, name="booking"),
    path("cases/<int:case_id>/non-responder/", case_views.non_responder, name="non_responder"),
    path("cases/<int:case_id>/suppress/", case_views.suppress, name="suppress"),
    path("cases/<int:case_id>/review/", review_views.review, name="review"),
    path("cases/<int:case_id>/sign-off/", review_views.sign_off, name="sign_off"),
    path("cases/<int:case_id>/escalate/", review_views.escalate, name="escalate"),
    path("reviews/", review_views.review_queue, name="review_queue"),
    path("escalations/", review_views.escalation_queue, name="escalations"),
    path("escalations/<int:escalation_id>/decision/", review_views.gp_decision, name="gp_decision"),
    path("reminder/", case_views.reminder, name="reminder"),
    path("activity/", audit_views.activity, name="activity"),
]

# The NHS.UK frontend's CSS points at /assets/images/… (icons in pagination, selects, details): serve
# that folder of the npm package there too (a production web server may serve it instead).
_NHSUK = dict(settings.STATICFILES_DIRS).get("nhsuk") if settings.STATICFILES_DIRS else None
if _NHSUK:
    urlpatterns.append(
        re_path(r"^assets/(?P<path>.*)$", serve, {"document_root": str(Path(_NHSUK) / "assets")})
    )
