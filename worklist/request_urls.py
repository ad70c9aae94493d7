"""Exam request pages (worklist.request_views)."""

from django.urls import path

from worklist import request_views as views

urlpatterns = [
    path("requests/", views.request_list, name="request_list"),
    path("requests/new/", views.request_create, name="request_create"),
    path("requests/<int:request_id>/", views.request_detail, name="request_detail"),
    path("requests/<int:request_id>/validate/", views.request_validate, name="request_validate"),
    path("requests/<int:request_id>/complete/", views.request_complete, name="request_complete"),
    path("requests/<int:request_id>/cancel/", views.request_cancel, name="request_cancel"),
    path("requests/<int:request_id>/identity/", views.request_identity_resolve, name="request_identity_resolve"),
    path("exams/<int:pk>/messages/post/", views.exam_message_post, name="exam_message_post"),
    path("exams/<int:pk>/cancel/", views.exam_cancel, name="exam_cancel"),
    path("exams/<int:pk>/images-incomplete/", views.exam_images_incomplete, name="exam_images_incomplete"),
    path("requests/<int:request_id>/documents/add/", views.request_document_add, name="request_document_add"),
    path("requests/<int:request_id>/documents/<int:document_id>/", views.request_document, name="request_document"),
]
