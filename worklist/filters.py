"""Filters and ordering of the exam list API (django-filter)."""

import django_filters
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from sites.models import Site
from sites.selectors import site_list_for_user
from worklist.models import PRIORITY_RANK, Exam, ExamStatus, Priority


def _user_sites(request) -> QuerySet[Site]:
    # Only the user's own sites are valid choices: another site's id is the
    # same 400 as an unknown id, so the filter cannot probe for existence.
    if request is None:
        return Site.objects.none()
    return site_list_for_user(user=request.user)


# Lower is more urgent: ordering by "priority" means most urgent first.
PRIORITY_RANK_EXPR = Case(
    *[When(priority=p, then=Value(r)) for p, r in PRIORITY_RANK.items()], output_field=IntegerField()
)


class ExamFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ExamStatus.choices, label=_("statut"))
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, label=_("priorité"))
    site = django_filters.ModelMultipleChoiceFilter(queryset=_user_sites, label=_("établissement"))
    modality = django_filters.CharFilter(field_name="modality", lookup_expr="iexact", label=_("modalité"))
    received_after = django_filters.IsoDateTimeFilter(
        field_name="received_at", lookup_expr="gte", label=_("reçu à partir de (ISO 8601)")
    )
    received_before = django_filters.IsoDateTimeFilter(
        field_name="received_at", lookup_expr="lt", label=_("reçu avant (ISO 8601)")
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("received_at", "received_at"),
            ("priority_rank", "priority"),
            ("status", "status"),
            ("id", "id"),
        ),
        label=_("tri"),
    )

    class Meta:
        model = Exam
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset.annotate(priority_rank=PRIORITY_RANK_EXPR))
        if queryset.query.order_by:
            # A stable tie-breaker, so that pages neither repeat nor skip exams.
            queryset = queryset.order_by(*queryset.query.order_by, "-id")
        return queryset
