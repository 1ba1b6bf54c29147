"""Report downloads; the practice, PCN, organisation and month are query parameters."""

from django.urls import path

from rxwatch.web.reports import views

urlpatterns = [
    path("reports/monthly.pdf", views.monthly, name="report_monthly"),
    path("reports/cqc.pdf", views.cqc_pdf, name="report_cqc"),
    path("reports/cqc.csv", views.cqc_csv, name="report_cqc_csv"),
]
