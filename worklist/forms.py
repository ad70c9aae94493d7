from django import forms
from django.utils.translation import gettext_lazy as _

from sites.models import Site, User
from worklist.models import ExamStatus, Priority


class ExamFilterForm(forms.Form):
    """Filters of the exam list; the site choices are the user's sites only."""

    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, label=_("Établissement"), empty_label=_("Tous")
    )
    status = forms.ChoiceField(choices=[("", _("Tous"))] + list(ExamStatus.choices), required=False, label=_("Statut"))
    priority = forms.ChoiceField(
        choices=[("", _("Toutes"))] + list(Priority.choices), required=False, label=_("Priorité")
    )

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        if sites is not None:
            self.fields["site"].queryset = sites


class ReasonForm(forms.Form):
    """Return to pool: why."""

    reason = forms.CharField(label=_("Motif"), max_length=300)


class ReassignForm(ReasonForm):
    """Reassign: to whom (a radiologist credentialed for the exam's site) and why."""

    to = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Radiologue"))

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        if candidates is not None:
            self.fields["to"].queryset = candidates
        self.order_fields(["to", "reason"])
