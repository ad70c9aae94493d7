"""Reports: templates, the report of an exam, its addenda and their delivery to the site.

A Report is a draft until it is signed; once signed its row is frozen (the
database refuses any UPDATE or DELETE of a signed report or addendum, see
migration 0002), so a correction can only be an Addendum, itself frozen when
signed. Delivery state lives in ReportDelivery, never on the frozen rows.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sites.models import Ght, Site
from worklist.models import Exam


class ReportTemplate(models.Model):
    """A French report template: GHT-wide (owner empty) or personal to one radiologist."""

    ght = models.ForeignKey(Ght, verbose_name=_("GHT"), on_delete=models.CASCADE, related_name="report_templates")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("propriétaire"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="report_templates",
        help_text=_("Vide : modèle partagé par tout le GHT."),
    )
    name = models.CharField(_("nom"), max_length=120)
    modality = models.CharField(_("modalité"), max_length=16, blank=True, help_text=_("Vide : toutes."))
    body_part = models.CharField(_("région anatomique"), max_length=64, blank=True, help_text=_("Vide : toutes."))
    indication = models.TextField(_("indication"), blank=True)
    technique = models.TextField(_("technique"), blank=True)
    findings = models.TextField(_("résultats"), blank=True)
    conclusion = models.TextField(_("conclusion"), blank=True)
    active = models.BooleanField(_("actif"), default=True)

    class Meta:
        verbose_name = _("modèle de compte rendu")
        verbose_name_plural = _("modèles de compte rendu")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Report(models.Model):
    """The report of one exam: a draft saved as the reader types, then signed and frozen."""

    exam = models.OneToOneField(Exam, verbose_name=_("examen"), on_delete=models.PROTECT, related_name="report")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("auteur"), on_delete=models.PROTECT, related_name="+"
    )
    template = models.ForeignKey(
        ReportTemplate, verbose_name=_("modèle"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    indication = models.TextField(_("indication"), blank=True)
    technique = models.TextField(_("technique"), blank=True)
    dose = models.TextField(_("dosimétrie"), blank=True)
    findings = models.TextField(_("résultats"), blank=True)
    conclusion = models.TextField(_("conclusion"), blank=True)
    critical_finding = models.BooleanField(_("résultat critique"), default=False)
    # Bumped by every autosave: a save from a stale tab is refused, not merged.
    revision = models.PositiveIntegerField(_("révision"), default=0)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    # Set once, at signing; copies of the signer's identity as it was then.
    signed_at = models.DateTimeField(_("signé le"), null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signataire"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    signer_name = models.CharField(_("nom du signataire"), max_length=200, blank=True)
    signer_rpps = models.CharField(_("RPPS du signataire"), max_length=11, blank=True)

    class Meta:
        verbose_name = _("compte rendu")
        verbose_name_plural = _("comptes rendus")
        constraints = [
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True) | (Q(signed_by__isnull=False) & ~Q(signer_rpps="")),
                name="report_signed_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"CR {self.exam_id}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class Addendum(models.Model):
    """A signed complement to a signed report (correction, critical result communicated…)."""

    class Kind(models.TextChoices):
        CORRECTION = "correction", _("complément")
        CRITICAL_ACK = "critical_ack", _("résultat critique communiqué")

    report = models.ForeignKey(Report, verbose_name=_("compte rendu"), on_delete=models.PROTECT, related_name="addenda")
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices, default=Kind.CORRECTION)
    text = models.TextField(_("texte"))
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    signed_at = models.DateTimeField(_("signé le"))
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signataire"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    signer_name = models.CharField(_("nom du signataire"), max_length=200)
    signer_rpps = models.CharField(_("RPPS du signataire"), max_length=11, blank=True)

    class Meta:
        verbose_name = _("addendum")
        verbose_name_plural = _("addenda")
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"Addendum {self.pk} au CR {self.report.exam_id}"


class ReportDelivery(models.Model):
    """One document sent back to the site for a signed report or addendum, with its retries.

    The SOP Instance UID is fixed when the row is created, so a retry re-sends
    the same object and the PACS keeps one copy.
    """

    class Kind(models.TextChoices):
        DICOM_PDF = "dicom_pdf", _("PDF encapsulé DICOM")
        HL7_ORU = "hl7_oru", _("message HL7 ORU^R01")

    class Status(models.TextChoices):
        PENDING = "pending", _("en attente")
        DELIVERED = "delivered", _("transmis")
        FAILED = "failed", _("en échec")

    report = models.ForeignKey(
        Report, verbose_name=_("compte rendu"), on_delete=models.PROTECT, related_name="deliveries"
    )
    addendum = models.ForeignKey(
        Addendum, verbose_name=_("addendum"), on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices, default=Kind.DICOM_PDF)
    status = models.CharField(_("état"), max_length=20, choices=Status.choices, default=Status.PENDING)
    sop_instance_uid = models.CharField(_("SOP Instance UID"), max_length=64, unique=True)
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("transmis le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("envoi de compte rendu")
        verbose_name_plural = _("envois de comptes rendus")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "kind"], condition=Q(addendum__isnull=True), name="delivery_one_per_report_kind"
            ),
            models.UniqueConstraint(fields=["addendum", "kind"], name="delivery_one_per_addendum_kind"),
        ]
        indexes = [
            # The retry sweep: deliveries not yet delivered whose next attempt is due.
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx", condition=~Q(status="delivered")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} CR {self.report.exam_id} ({self.get_status_display()})"


class RisEndpoint(models.Model):
    """The site's RIS, where signed reports are sent as HL7 v2 ORU^R01 messages over MLLP."""

    site = models.OneToOneField(
        Site, verbose_name=_("établissement"), on_delete=models.CASCADE, related_name="ris_endpoint"
    )
    host = models.CharField(_("hôte"), max_length=255)
    port = models.PositiveIntegerField(_("port"), validators=[MinValueValidator(1), MaxValueValidator(65535)])
    enabled = models.BooleanField(_("activé"), default=True)
    # MSH-3/4 (us) and MSH-5/6 (the RIS), as the site's interface engine expects them.
    sending_application = models.CharField(_("application émettrice"), max_length=40, default="TELERADIO")
    sending_facility = models.CharField(_("établissement émetteur"), max_length=40, blank=True)
    receiving_application = models.CharField(_("application destinataire"), max_length=40, blank=True)
    receiving_facility = models.CharField(_("établissement destinataire"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("RIS du site")
        verbose_name_plural = _("RIS des sites")

    def __str__(self) -> str:
        return f"RIS {self.host}:{self.port}"


class CriticalAlert(models.Model):
    """A critical finding (résultat critique) the site must acknowledge, by a named person.

    Raised when a report flagged critical is signed; acknowledged once by the
    site (which writes the "résultat communiqué à …" addendum); escalated to
    the signer, who must phone the site, for as long as nobody acknowledges.
    """

    report = models.OneToOneField(
        Report, verbose_name=_("compte rendu"), on_delete=models.PROTECT, related_name="critical_alert"
    )
    created_at = models.DateTimeField(_("signalé le"), auto_now_add=True)
    acknowledged_at = models.DateTimeField(_("accusé de réception le"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accusé de réception par"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    informed_person = models.CharField(_("personne informée"), max_length=200, blank=True)
    escalations = models.PositiveSmallIntegerField(_("relances"), default=0)
    escalated_at = models.DateTimeField(_("dernière relance le"), null=True, blank=True)

    class Meta:
        verbose_name = _("résultat critique")
        verbose_name_plural = _("résultats critiques")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | ~Q(informed_person=""),
                name="critical_alert_ack_names_a_person",
            ),
        ]
        indexes = [
            # The site board's banners and the escalation sweep: alerts nobody acknowledged yet.
            models.Index(fields=["created_at"], name="critical_open_idx", condition=Q(acknowledged_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"Résultat critique CR {self.report.exam_id}"


class OpinionRequest(models.Model):
    """Téléexpertise: the reader asks a colleague or a subspecialty line for an opinion on an exam.

    Routed like an exam (worklist.routing.route, restricted to the subspecialty
    and excluding the requester) with its own délai (OPINION_SLA_MINUTES); the
    expert answers in writing, and the reader may cite the answer in the report.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("en attente")
        ANSWERED = "answered", _("répondu")
        CANCELLED = "cancelled", _("annulé")

    exam = models.ForeignKey(Exam, verbose_name=_("examen"), on_delete=models.PROTECT, related_name="opinions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("demandé par"), on_delete=models.PROTECT, related_name="+"
    )
    question = models.TextField(_("question"))
    subspecialty = models.ForeignKey(
        "sites.Subspecialty",
        verbose_name=_("surspécialité"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("expert"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="opinions_to_give",
    )
    status = models.CharField(_("état"), max_length=12, choices=Status.choices, default=Status.OPEN)
    routing_reason = models.TextField(_("motif d'orientation"), blank=True)
    deadline_at = models.DateTimeField(_("délai garanti"))
    escalated_at = models.DateTimeField(_("relancé le"), null=True, blank=True)
    answer = models.TextField(_("réponse"), blank=True)
    answered_at = models.DateTimeField(_("répondu le"), null=True, blank=True)
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("demande d'avis")
        verbose_name_plural = _("demandes d'avis")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="answered") | (~Q(answer="") & Q(answered_at__isnull=False)),
                name="opinion_answered_has_answer",
            ),
        ]
        indexes = [
            # The expert's list and the overdue sweep: open requests by deadline.
            models.Index(fields=["deadline_at"], name="opinion_open_idx", condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return f"Avis {self.pk} sur l'examen {self.exam_id}"
