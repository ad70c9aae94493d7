"""Form pieces of the organisation admin."""

import zoneinfo

from django import forms
from django.db import models
from django.utils.text import capfirst

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
