from django import forms
from django.utils.translation import gettext_lazy as _

from sites.models import Modality, Site, User
from worklist.models import ExamCatalogueItem, ExamRequest, ExamStatus, Priority


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


class ExamRequestForm(forms.ModelForm):
    """The MERM's request, in the order they fill it at the console."""

    site = forms.ModelChoiceField(queryset=Site.objects.none(), label=_("Établissement"))
    document = forms.FileField(label=_("Bon de demande (PDF, JPEG, PNG)"), required=False)

    class Meta:
        model = ExamRequest
        fields = [
            "site",
            "priority",
            "catalogue_item",
            "scheduled_modality",
            "patient_family_name",
            "patient_birth_name",
            "patient_given_name",
            "patient_birth_date",
            "patient_sex",
            "patient_id",
            "ins",
            "ins_status",
            "requesting_physician",
            "clinical_question",
            "indication",
            "renal_function",
            "contrast_allergy",
            "pregnancy",
        ]
        widgets = {
            "patient_birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "clinical_question": forms.Textarea(attrs={"rows": 3}),
            "indication": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["catalogue_item"].queryset = ExamCatalogueItem.objects.filter(
            ght__sites__in=sites, active=True
        ).distinct()
        self.fields["scheduled_modality"].queryset = Modality.objects.filter(site__in=sites, enabled=True)
        if len(sites) == 1:
            self.fields["site"].initial = sites.first()

    def clean_ins(self) -> str:
        ins = self.cleaned_data["ins"].strip()
        if ins and (not ins.isdigit() or len(ins) != 15):
            raise forms.ValidationError(_("L'INS compte 15 chiffres."))
        return ins

    def clean(self):
        cleaned = super().clean()
        site, item, modality = cleaned.get("site"), cleaned.get("catalogue_item"), cleaned.get("scheduled_modality")
        if site and item and item.ght_id != site.ght_id:
            self.add_error("catalogue_item", _("Cet examen n'est pas au catalogue du GHT de l'établissement."))
        if site and modality and modality.site_id != site.pk:
            self.add_error("scheduled_modality", _("Cet appareil n'est pas celui de l'établissement."))
        if cleaned.get("ins") and not cleaned.get("ins_status"):
            self.add_error("ins_status", _("Précisez le statut de l'INS."))
        return cleaned


class RequestValidationForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            ("accept", _("Valider")),
            ("info", _("Demander un complément")),
            ("refuse", _("Refuser (examen non justifié)")),
        ],
        label=_("Décision"),
        widget=forms.RadioSelect,
    )
    protocol = forms.CharField(label=_("Protocole"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    comment = forms.CharField(
        label=_("Commentaire ou motif"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )


class RequestCompleteForm(forms.Form):
    text = forms.CharField(label=_("Complément"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class IdentityResolveForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("confirm", _("Même patient : confirmer (expliquer)")),
            ("correct", _("La demande était erronée : la corriger d'après l'examen reçu")),
        ],
        label=_("Résolution"),
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Explication"), max_length=500, required=False)


class ExamMessageForm(forms.Form):
    text = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class RequestDocumentForm(forms.Form):
    file = forms.FileField(label=_("Document (PDF, JPEG, PNG)"))
