from django.urls import path

from sites import views

urlpatterns = [
    path("board/", views.site_board, name="site_board"),
    # Rota planner (GHT administrators)
    path("rota/", views.rota_month_list, name="rota_month_list"),
    path("rota/generate/", views.rota_month_generate_view, name="rota_month_generate"),
    path("rota/<int:month_id>/", views.rota_month_detail, name="rota_month_detail"),
    path("rota/<int:month_id>/publish/", views.rota_month_publish_view, name="rota_month_publish"),
    path("rota/<int:month_id>/unpublish/", views.rota_month_unpublish_view, name="rota_month_unpublish"),
    path("rota/<int:month_id>/export.csv", views.rota_month_export, name="rota_month_export"),
    path("rota/shift/<int:shift_id>/", views.shift_assign_view, name="shift_assign"),
    # My shifts (radiologists)
    path("rota/mine/", views.rota_mine, name="rota_mine"),
    path("rota/mine/unavailability/", views.unavailability_declare_view, name="unavailability_declare"),
    path(
        "rota/mine/unavailability/<int:unavailability_id>/delete/",
        views.unavailability_delete_view,
        name="unavailability_delete",
    ),
    path("rota/mine/swap/", views.shift_swap_propose_view, name="shift_swap_propose"),
    path("rota/swap/<int:swap_id>/accept/", views.shift_swap_accept_view, name="shift_swap_accept"),
    path("rota/swap/<int:swap_id>/refuse/", views.shift_swap_refuse_view, name="shift_swap_refuse"),
    path("rota/mine/calendar/", views.calendar_token_create_view, name="calendar_token_create"),
    path("rota/mine/calendar/revoke/", views.calendar_token_revoke_view, name="calendar_token_revoke"),
    # iCalendar feed: no login, the secret token is the key.
    path("rota/ical/<str:token>.ics", views.rota_ical, name="rota_ical"),
]
