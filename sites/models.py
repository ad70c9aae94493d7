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
