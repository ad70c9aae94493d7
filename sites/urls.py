from django.urls import path

from sites import views

urlpatterns = [
    path("board/", views.site_board, name="site_board"),
]
