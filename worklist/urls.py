from django.urls import path

from worklist import views

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("exams/", views.exam_list, name="exam_list"),
    path("exams/<int:pk>/", views.exam_detail, name="exam_detail"),
    path("exams/<int:pk>/images/", views.exam_images, name="exam_images"),
    path(
        "exams/<int:pk>/series/<int:series_id>/thumbnail.png", views.exam_series_thumbnail, name="exam_series_thumbnail"
    ),
    path("exams/<int:pk>/take/", views.exam_take, name="exam_take"),
    path("exams/<int:pk>/claim/", views.exam_claim_view, name="exam_claim"),
    path("exams/<int:pk>/release/", views.exam_release_view, name="exam_release"),
    path("exams/<int:pk>/return-to-pool/", views.exam_return_to_pool_view, name="exam_return_to_pool"),
    path("exams/<int:pk>/reassign/", views.exam_reassign_view, name="exam_reassign"),
]
