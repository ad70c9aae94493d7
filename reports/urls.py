"""Report pages, under the exam they belong to."""

from django.urls import path

from reports import views

urlpatterns = [
    path("exams/<int:pk>/report/", views.report_page, name="report_page"),
    path("exams/<int:pk>/report/panel/", views.report_panel, name="report_panel"),
    path("exams/<int:pk>/report/autosave/", views.report_autosave, name="report_autosave"),
    path("exams/<int:pk>/report/template/", views.report_apply_template, name="report_apply_template"),
    path("exams/<int:pk>/report/sign/", views.report_sign, name="report_sign"),
    path("exams/<int:pk>/report/addendum/", views.report_addendum, name="report_addendum"),
    path("alerts/<int:alert_id>/acknowledge/", views.critical_alert_acknowledge, name="critical_alert_acknowledge"),
    path("exams/<int:pk>/opinions/create/", views.opinion_request_create, name="opinion_request_create"),
    path("opinions/", views.opinion_list, name="opinion_list"),
    path("opinions/<int:opinion_id>/", views.opinion_detail, name="opinion_detail"),
    path("opinions/<int:opinion_id>/answer/", views.opinion_answer, name="opinion_answer"),
    path("opinions/<int:opinion_id>/cite/", views.opinion_cite, name="opinion_cite"),
]
