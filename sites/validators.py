"""Django validators around the pure checks of sites.identifiers."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sites import identifiers

_FINESS_MESSAGES = {
    "format": _("Un numéro FINESS comporte 9 caractères : département (01–95, 2A, 2B, 9A–9F) puis 7 chiffres."),
    "checksum": _("La clé de contrôle de ce numéro FINESS est fausse."),
}
_RPPS_MESSAGES = {
    "format": _("Un numéro RPPS comporte exactement 11 chiffres."),
    "checksum": _("La clé de contrôle de ce numéro RPPS est fausse."),
}
_AE_MESSAGES = {
    "empty": _("Le titre AE ne peut pas être vide."),
    "length": _("Un titre AE comporte au plus 16 caractères."),
    "backslash": _("Un titre AE ne peut pas contenir de barre oblique inverse (\\)."),
    "control": _("Un titre AE ne peut pas contenir de caractère de contrôle."),
    "charset": _("Un titre AE ne contient que des caractères ASCII imprimables."),
}


def validate_finess(value: str) -> None:
    error = identifiers.finess_error(value)
    if error:
        raise ValidationError(_FINESS_MESSAGES[error], code=f"finess_{error}")


def validate_rpps(value: str) -> None:
    error = identifiers.rpps_error(value)
    if error:
        raise ValidationError(_RPPS_MESSAGES[error], code=f"rpps_{error}")


def validate_ae_title(value: str) -> None:
    error = identifiers.ae_title_error(value)
    if error:
        raise ValidationError(_AE_MESSAGES[error], code=f"ae_{error}")


def validate_timezone(value: str) -> None:
    import zoneinfo

    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Fuseau horaire inconnu : %(value)s"), params={"value": value})
