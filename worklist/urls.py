from django.urls import path

from worklist import views

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("exams/", views.exam_list, name="exam_list"),
    path("exams/<int:pk>/", views.exam_detail, name="exam_detail"),
]
