"""The organisation: regions, GHTs, sites, modalities, people and credentials.

Scoping rule (who sees what) lives in sites.selectors; models only hold data
and the invariants the database can enforce.
"""

import datetime

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sites.validators import validate_ae_title, validate_finess, validate_rpps, validate_timezone


class Region(models.Model):
    """Optional pooling level above GHTs (e.g. a regional public/private platform)."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    short_name = models.CharField(_("nom court"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("région / plateforme")
        verbose_name_plural = _("régions / plateformes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ght(models.Model):
    """Groupement Hospitalier de Territoire: the tenant boundary for rotas, rules and admins."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    short_name = models.CharField(_("nom court"), max_length=50, blank=True)
    region = models.ForeignKey(
        Region,
        verbose_name=_("région / plateforme"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ghts",
    )
    timezone = models.CharField(
        _("fuseau horaire des gardes"),
        max_length=64,
        default="Europe/Paris",
        validators=[validate_timezone],
        help_text=_("Les lignes de garde du GHT sont définies dans ce fuseau."),
    )

    class Meta:
        verbose_name = _("GHT")
        verbose_name_plural = _("GHT")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.short_name or self.name


class Site(models.Model):
    """Établissement: a hospital of a GHT, with its own time zone."""

    class Sector(models.TextChoices):
        PUBLIC = "public", _("public")
        PRIVATE = "private", _("privé")
        ESPIC = "espic", _("privé d'intérêt collectif (ESPIC)")

    ght = models.ForeignKey(Ght, verbose_name=_("GHT"), on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(_("nom"), max_length=200)
    short_name = models.CharField(_("nom court"), max_length=50, blank=True)
    finess = models.CharField(_("numéro FINESS"), max_length=9, unique=True, validators=[validate_finess])
    sector = models.CharField(_("statut"), max_length=10, choices=Sector.choices, default=Sector.PUBLIC)
    timezone = models.CharField(
        _("fuseau horaire"), max_length=64, default="Europe/Paris", validators=[validate_timezone]
    )
    address = models.TextField(_("adresse"), blank=True)
    duty_phone = models.CharField(_("téléphone du poste de garde"), max_length=30, blank=True)
    holiday_subdivision = models.CharField(
        _("jours fériés locaux"),
        max_length=8,
        blank=True,
        choices=[
            ("", _("France métropolitaine")),
            ("57", _("Moselle")),
            ("6AE", _("Alsace")),
            ("971", _("Guadeloupe")),
            ("972", _("Martinique")),
            ("973", _("Guyane")),
            ("974", _("La Réunion")),
            ("976", _("Mayotte")),
        ],
        help_text=_("Jours fériés supplémentaires appliqués aux gardes de cet établissement."),
    )
    active = models.BooleanField(_("actif"), default=True)

    class Meta:
        verbose_name = _("établissement")
        verbose_name_plural = _("établissements")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["ght", "name"], name="site_unique_name_per_ght"),
        ]

    def __str__(self) -> str:
        return self.short_name or self.name


class Modality(models.Model):
    """A scanner/MRI of a site, known to the gateway by its calling AE title."""

    class Type(models.TextChoices):
        CT = "CT", _("Scanner (CT)")
        MR = "MR", _("IRM (MR)")
        CR = "CR", _("Radiographie numérisée (CR)")
        DX = "DX", _("Radiographie numérique (DX)")
        US = "US", _("Échographie (US)")
        MG = "MG", _("Mammographie (MG)")
        NM = "NM", _("Médecine nucléaire (NM)")
        PT = "PT", _("TEP (PT)")
        XA = "XA", _("Angiographie (XA)")
        OT = "OT", _("Autre (OT)")

    site = models.ForeignKey(Site, verbose_name=_("établissement"), on_delete=models.PROTECT, related_name="modalities")
    name = models.CharField(_("nom"), max_length=100)
    ae_title = models.CharField(_("titre AE"), max_length=16, unique=True, validators=[validate_ae_title])
    host = models.CharField(_("hôte"), max_length=255, blank=True, help_text=_("Adresse IP ou nom DNS."))
    port = models.PositiveIntegerField(
        _("port"), default=104, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    modality_type = models.CharField(_("type"), max_length=2, choices=Type.choices, default=Type.CT)
    urgent_by_default = models.BooleanField(
        _("urgences par défaut"),
        default=False,
        help_text=_("Les examens de cette modalité sont annoncés dès la première image."),
    )
    enabled = models.BooleanField(_("activée"), default=True)

    class Meta:
        verbose_name = _("modalité")
        verbose_name_plural = _("modalités")
        ordering = ["site__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title})"

    def save(self, *args, **kwargs):
        # DICOM treats leading/trailing spaces of an AE title as insignificant.
        self.ae_title = self.ae_title.strip()
        super().save(*args, **kwargs)


class PacsNode(models.Model):
    """The site's PACS, where signed reports are sent back by DICOM."""

    site = models.OneToOneField(
        Site, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="pacs_node"
    )
    ae_title = models.CharField(_("titre AE"), max_length=16, validators=[validate_ae_title])
    host = models.CharField(_("hôte"), max_length=255)
    port = models.PositiveIntegerField(
        _("port"), default=104, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    enabled = models.BooleanField(_("activé"), default=True)

    class Meta:
        verbose_name = _("PACS du site")
        verbose_name_plural = _("PACS des sites")

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


class Role(models.TextChoices):
    RADIOLOGIST = "radiologist", _("Radiologue")
    TECHNOLOGIST = "technologist", _("Manipulateur (MERM)")
    GHT_ADMIN = "ght_admin", _("Administrateur de GHT")
    PLATFORM_ADMIN = "platform_admin", _("Administrateur de la plateforme")


ADMIN_ROLES = {Role.GHT_ADMIN, Role.PLATFORM_ADMIN}


class TeleradioUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.PLATFORM_ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """One person, one account, one role. Admin access is derived from the role."""

    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices, default=Role.TECHNOLOGIST)
    ght = models.ForeignKey(
        Ght,
        verbose_name=_("GHT de rattachement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        help_text=_("Obligatoire sauf pour un administrateur de la plateforme."),
    )
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)

    objects = TeleradioUserManager()

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role="platform_admin") | Q(ght__isnull=False),
                name="user_ght_required_unless_platform_admin",
            ),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        if self.role == Role.RADIOLOGIST and full:
            return f"Dr {full}"
        return full or self.username

    def clean(self) -> None:
        super().clean()
        if self.role != Role.PLATFORM_ADMIN and not self.ght_id:
            raise ValidationError({"ght": _("Choisissez le GHT de rattachement.")})

    def save(self, *args, **kwargs):
        # Access to the Django admin follows the role, so that a role change
        # cannot leave a stale staff or superuser flag behind.
        self.is_staff = self.role in ADMIN_ROLES
        self.is_superuser = self.role == Role.PLATFORM_ADMIN
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = set(update_fields) | {"is_staff", "is_superuser"}
        super().save(*args, **kwargs)

    @property
    def is_platform_admin(self) -> bool:
        return self.is_active and self.role == Role.PLATFORM_ADMIN

    @property
    def is_ght_admin(self) -> bool:
        return self.is_active and self.role == Role.GHT_ADMIN

    @property
    def is_radiologist(self) -> bool:
        return self.role == Role.RADIOLOGIST

    @property
    def is_technologist(self) -> bool:
        return self.role == Role.TECHNOLOGIST


class Subspecialty(models.Model):
    """Surspécialité (neuro, MSK, …); the list is data, seeded by a migration."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("nom"), max_length=100)

    class Meta:
        verbose_name = _("surspécialité")
        verbose_name_plural = _("surspécialités")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Radiologist(models.Model):
    """Radiologist profile of a user."""

    user = models.OneToOneField(
        User, verbose_name=_("utilisateur"), on_delete=models.CASCADE, related_name="radiologist"
    )
    rpps = models.CharField(_("numéro RPPS"), max_length=11, unique=True, validators=[validate_rpps])
    subspecialties = models.ManyToManyField(Subspecialty, verbose_name=_("surspécialités"), blank=True)
    mobile_phone = models.CharField(_("téléphone portable"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("radiologue")
        verbose_name_plural = _("radiologues")
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return str(self.user)


class Technologist(models.Model):
    """MERM profile: the sites where the technologist works."""

    user = models.OneToOneField(
        User, verbose_name=_("utilisateur"), on_delete=models.CASCADE, related_name="technologist"
    )
    sites = models.ManyToManyField(Site, verbose_name=_("établissements"), related_name="technologists")

    class Meta:
        verbose_name = _("manipulateur (MERM)")
        verbose_name_plural = _("manipulateurs (MERM)")

    def __str__(self) -> str:
        return str(self.user)


class Credential(models.Model):
    """Habilitation: a radiologist may read for a site between two dates."""

    class Contract(models.TextChoices):
        HOSPITAL = "hospital", _("praticien hospitalier (statutaire)")
        TELERADIOLOGY = "teleradiology", _("convention de téléradiologie")
        PRIVATE = "private", _("libéral (convention public-privé)")
        LOCUM = "locum", _("remplacement / intérim")

    radiologist = models.ForeignKey(
        Radiologist, verbose_name=_("radiologue"), on_delete=models.CASCADE, related_name="credentials"
    )
    site = models.ForeignKey(
        Site, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="credentials"
    )
    valid_from = models.DateField(_("valable du"), default=datetime.date.today)
    valid_until = models.DateField(_("valable jusqu'au"), null=True, blank=True)
    contract_type = models.CharField(_("type de contrat"), max_length=20, choices=Contract.choices)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("habilitation")
        verbose_name_plural = _("habilitations")
        ordering = ["site__name", "radiologist__user__last_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="credential_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.radiologist} → {self.site}"

    def clean(self) -> None:
        super().clean()
        if self.valid_until and self.valid_from and self.valid_until < self.valid_from:
            raise ValidationError({"valid_until": _("La fin de validité précède son début.")})

    def is_valid_on(self, day: datetime.date) -> bool:
        return self.active and self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


# --- Rotas -------------------------------------------------------------------


class RotaLine(models.Model):
    """Ligne de garde: a duty one radiologist covers for a set of sites.

    Optionally limited to a subspecialty (then it takes only the exams of that
    subspecialty) and to modality types. A line belongs to a GHT, or to a
    region for a regional platform's lines.
    """

    class Kind(models.TextChoices):
        ON_CALL = "on_call", _("permanence des soins (garde / astreinte)")
        SCHEDULED = "scheduled", _("vacation programmée")

    ght = models.ForeignKey(
        Ght, verbose_name=_("GHT"), on_delete=models.CASCADE, null=True, blank=True, related_name="rota_lines"
    )
    region = models.ForeignKey(
        Region,
        verbose_name=_("région / plateforme"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rota_lines",
    )
    name = models.CharField(_("nom"), max_length=200)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.ON_CALL)
    sites = models.ManyToManyField(Site, verbose_name=_("établissements couverts"), related_name="rota_lines")
    subspecialty = models.ForeignKey(
        Subspecialty,
        verbose_name=_("surspécialité"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Vide : ligne généraliste. Sinon la ligne ne prend que les examens de cette surspécialité."),
    )
    modality_types = models.CharField(
        _("types de modalité"),
        max_length=100,
        blank=True,
        help_text=_("Séparés par des virgules (ex. « CT,MR ») ; vide : toutes."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ligne de garde")
        verbose_name_plural = _("lignes de garde")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ght__isnull=False) | Q(region__isnull=False), name="rotaline_owned_by_ght_or_region"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def modality_type_set(self) -> frozenset[str]:
        return frozenset(m.strip().upper() for m in self.modality_types.split(",") if m.strip())


class RotaSlot(models.Model):
    """One weekly recurring duty of a line's template, in the GHT's local time."""

    class HolidayMode(models.TextChoices):
        AS_SUNDAY = "as_sunday", _("jour férié traité comme un dimanche")
        AS_USUAL = "as_usual", _("jours fériés sans effet")
        SKIP = "skip", _("jamais un jour férié")

    line = models.ForeignKey(RotaLine, verbose_name=_("ligne"), on_delete=models.CASCADE, related_name="slots")
    name = models.CharField(_("nom"), max_length=100)
    days = models.CharField(
        _("jours"),
        max_length=20,
        default="0,1,2,3,4,5,6",
        help_text=_("0 = lundi … 6 = dimanche, séparés par des virgules."),
    )
    start_time = models.TimeField(_("début"))
    end_time = models.TimeField(_("fin"), help_text=_("Une fin avant le début finit le lendemain."))
    holiday_mode = models.CharField(
        _("jours fériés"), max_length=10, choices=HolidayMode.choices, default=HolidayMode.AS_SUNDAY
    )
    default_radiologist = models.ForeignKey(
        Radiologist,
        verbose_name=_("radiologue par défaut"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("créneau de modèle")
        verbose_name_plural = _("créneaux de modèle")
        ordering = ["line", "start_time"]

    def __str__(self) -> str:
        return f"{self.line} — {self.name}"

    @property
    def day_set(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.days.split(",") if d.strip().isdigit() and 0 <= int(d) <= 6)


class RotaMonth(models.Model):
    """A GHT's rota for one month: drafted, validated, then published."""

    class State(models.TextChoices):
        DRAFT = "draft", _("brouillon")
        PUBLISHED = "published", _("publié")

    ght = models.ForeignKey(Ght, verbose_name=_("GHT"), on_delete=models.CASCADE, related_name="rota_months")
    month = models.DateField(_("mois"), help_text=_("Le premier jour du mois."))
    state = models.CharField(_("état"), max_length=10, choices=State.choices, default=State.DRAFT)
    published_at = models.DateTimeField(_("publié le"), null=True, blank=True)
    published_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("planning mensuel")
        verbose_name_plural = _("plannings mensuels")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["ght", "month"], name="rotamonth_unique_per_ght"),
        ]

    def __str__(self) -> str:
        return f"{self.ght} {self.month:%m/%Y}"


class RotaMonthEvent(models.Model):
    """History of a month's rota: generated, edited, published, unpublished."""

    rota_month = models.ForeignKey(RotaMonth, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=30)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    detail = models.JSONField(_("détail"), default=dict, blank=True)
    at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.rota_month} {self.action}"


class Shift(models.Model):
    """A duty to cover: one line, from start to end (UTC), by one radiologist (or nobody yet)."""

    rota_month = models.ForeignKey(RotaMonth, on_delete=models.CASCADE, related_name="shifts")
    line = models.ForeignKey(RotaLine, verbose_name=_("ligne"), on_delete=models.CASCADE, related_name="shifts")
    slot = models.ForeignKey(RotaSlot, on_delete=models.SET_NULL, null=True, blank=True, related_name="shifts")
    radiologist = models.ForeignKey(
        Radiologist,
        verbose_name=_("radiologue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="shifts",
    )
    start = models.DateTimeField(_("début"))
    end = models.DateTimeField(_("fin"))

    class Meta:
        verbose_name = _("garde")
        verbose_name_plural = _("gardes")
        ordering = ["start", "line"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="shift_ends_after_start"),
        ]
        indexes = [
            # Routing reads the shifts covering an instant.
            models.Index(fields=["start", "end"], name="shift_span_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.line} {self.start:%Y-%m-%d %H:%M} → {self.radiologist or '—'}"


class Unavailability(models.Model):
    """A radiologist declares they cannot take shifts in a period."""

    radiologist = models.ForeignKey(Radiologist, on_delete=models.CASCADE, related_name="unavailabilities")
    start = models.DateTimeField(_("début"))
    end = models.DateTimeField(_("fin"))
    reason = models.CharField(_("motif"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("indisponibilité")
        verbose_name_plural = _("indisponibilités")
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="unavailability_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.radiologist} {self.start:%Y-%m-%d}"


class ShiftSwap(models.Model):
    """Two radiologists exchange two shifts; both must accept."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("proposé")
        ACCEPTED = "accepted", _("accepté")
        REFUSED = "refused", _("refusé")
        CANCELLED = "cancelled", _("annulé")

    shift_from = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="+")
    shift_to = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(Radiologist, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(_("état"), max_length=10, choices=State.choices, default=State.PROPOSED)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("échange de garde")
        verbose_name_plural = _("échanges de garde")

    def __str__(self) -> str:
        return f"{self.shift_from} ⇄ {self.shift_to}"


class CalendarToken(models.Model):
    """Secret of a radiologist's iCalendar feed URL; revocable."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="calendar_token")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user}"
