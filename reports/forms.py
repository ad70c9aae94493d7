"""Forms of the report editor: draft sections, template choice, signature, addendum."""

from django import forms
from django.utils.translation import gettext_lazy as _

from reports.models import Report
from sites.models import Subspecialty


class ReportDraftForm(forms.ModelForm):
    """The sections the reader writes; the revision guards against a stale tab."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    class Meta:
        model = Report
        fields = ["indication", "technique", "dose", "findings", "conclusion", "critical_finding"]
        widgets = {
            "indication": forms.Textarea(attrs={"rows": 2}),
            "technique": forms.Textarea(attrs={"rows": 2}),
            "dose": forms.Textarea(attrs={"rows": 1}),
            "findings": forms.Textarea(attrs={"rows": 8}),
            "conclusion": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"critical_finding": _("Alerte immédiate du site, qui doit en accuser réception.")}


class TemplateChoiceForm(forms.Form):
    template = forms.ModelChoiceField(queryset=None, label=_("Modèle"), empty_label=_("Choisir un modèle…"))
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates


class SignForm(forms.Form):
    password = forms.CharField(
        label=_("Mot de passe"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        required=False,
    )
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class AddendumForm(forms.Form):
    text = forms.CharField(label=_("Addendum"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    password = forms.CharField(
        label=_("Mot de passe"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        required=False,
    )


class AcknowledgeForm(forms.Form):
    informed_person = forms.CharField(
        label=_("Personne informée"),
        max_length=200,
        help_text=_("Nom (et fonction) de la personne à qui le résultat a été communiqué."),
    )


class OpinionRequestForm(forms.Form):
    """Ask a named colleague, or whoever is on duty for a subspecialty."""

    question = forms.CharField(label=_("Question"), widget=forms.Textarea(attrs={"rows": 3}), max_length=3000)
    expert = forms.ModelChoiceField(
        queryset=None, label=_("Confrère"), required=False, empty_label=_("— ou une surspécialité —")
    )
    subspecialty = forms.ModelChoiceField(
        queryset=Subspecialty.objects.all(), label=_("Surspécialité"), required=False, empty_label=_("—")
    )

    def __init__(self, *args, experts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expert"].queryset = experts

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("expert")) == bool(cleaned.get("subspecialty")):
            raise forms.ValidationError(_("Choisissez un confrère ou une surspécialité (l'un ou l'autre)."))
        return cleaned


class OpinionAnswerForm(forms.Form):
    answer = forms.CharField(label=_("Votre avis"), widget=forms.Textarea(attrs={"rows": 6}), max_length=10000)


class CiteForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
