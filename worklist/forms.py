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


# The modalities a reader filters on (DICOM Modality codes).
WORKLIST_MODALITIES = ["CT", "MR", "CR", "DX", "US", "MG", "NM", "PT", "XA", "RF"]
OPEN_STATUSES = [ExamStatus.RECEIVING, ExamStatus.READY, ExamStatus.ASSIGNED, ExamStatus.IN_READING]


class WorklistFilterForm(forms.Form):
    """Filters of the radiologist's worklist, kept in the session (saved per user)."""

    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, label=_("Établissement"), empty_label=_("Tous")
    )
    modality = forms.ChoiceField(
        choices=[("", _("Toutes"))] + [(m, m) for m in WORKLIST_MODALITIES], required=False, label=_("Modalité")
    )
    priority = forms.ChoiceField(
        choices=[("", _("Toutes"))] + list(Priority.choices), required=False, label=_("Priorité")
    )
    status = forms.ChoiceField(
        choices=[("", _("Tous"))] + [(s.value, s.label) for s in OPEN_STATUSES], required=False, label=_("Statut")
    )
    scope = forms.ChoiceField(
        choices=[("", _("Mes examens et le pool")), ("mine", _("Mes examens")), ("pool", _("Le pool"))],
        required=False,
        label=_("Liste"),
    )

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        if sites is not None:
            self.fields["site"].queryset = sites

    def saved(self) -> dict[str, str | int]:
        """The cleaned filters as JSON-safe values for the session (the site by id)."""
        data = self.cleaned_data
        return {key: (value.pk if key == "site" else value) for key, value in data.items() if value not in ("", None)}
