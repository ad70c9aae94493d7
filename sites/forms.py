"""Form pieces of the organisation admin."""

import zoneinfo

from django import forms
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

# A select instead of free text: a mistyped zone would shift every time shown
# for the site. The model validator still runs behind it.
TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


def timezone_formfield(db_field: models.Field) -> forms.ChoiceField:
    """A select of the IANA time zones for a model's ``timezone`` CharField."""
    return forms.ChoiceField(
        label=capfirst(db_field.verbose_name),
        choices=TIMEZONE_CHOICES,
        initial=db_field.default,
        help_text=db_field.help_text,
        required=not db_field.blank,
    )


# --- Rota planner ---------------------------------------------------------------


class ShiftAssignForm(forms.Form):
    """Pick the radiologist of a shift among those eligible (credentialed for every site of the line)."""

    radiologist = forms.ModelChoiceField(
        label=_("Radiologue"), queryset=None, required=False, empty_label=_("— à pourvoir —")
    )

    def __init__(self, *args, radiologists, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["radiologist"].queryset = radiologists


class RotaMonthGenerateForm(forms.Form):
    """Which GHT and month to prepare (the GHT choices are the admin's own)."""

    ght = forms.ModelChoiceField(label=_("GHT"), queryset=None)
    month = forms.DateField(label=_("Mois"), input_formats=["%Y-%m", "%Y-%m-%d"])
    regenerate = forms.BooleanField(required=False)

    def __init__(self, *args, ghts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ght"].queryset = ghts


class UnavailabilityForm(forms.Form):
    start = forms.DateTimeField(
        label=_("Du"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    end = forms.DateTimeField(
        label=_("Au"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    reason = forms.CharField(label=_("Motif"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError(_("La fin de l'indisponibilité doit suivre son début."))
        return data


class ShiftSwapProposeForm(forms.Form):
    """One of my shifts against a colleague's (choices come from the scoped selectors)."""

    shift_from = forms.ModelChoiceField(label=_("Ma garde"), queryset=None)
    shift_to = forms.ModelChoiceField(label=_("Garde du collègue"), queryset=None)

    def __init__(self, *args, mine, theirs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shift_from"].queryset = mine
        self.fields["shift_to"].queryset = theirs
        self.fields["shift_from"].label_from_instance = shift_label
        self.fields["shift_to"].label_from_instance = shift_label


def shift_label(shift) -> str:
    """'PDS CT — sam. 05/12 23:30 → 08:00 (Dr Martin)' in the line's GHT time zone."""
    tz = zoneinfo.ZoneInfo(shift.rota_month.ght.timezone)
    start, end = shift.start.astimezone(tz), shift.end.astimezone(tz)
    days = (_("lun."), _("mar."), _("mer."), _("jeu."), _("ven."), _("sam."), _("dim."))
    who = f" ({shift.radiologist})" if shift.radiologist_id else ""
    return f"{shift.line.name} — {days[start.weekday()]} {start:%d/%m %H:%M} → {end:%H:%M}{who}"
