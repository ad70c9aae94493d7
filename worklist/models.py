"""Exams (one DICOM study), their series and instances, and their status history."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sites.models import Ght, Modality, Site, Subspecialty
from worklist.states import Status


class ExamStatus(models.TextChoices):
    REQUESTED = Status.REQUESTED, _("demandé")
    SCHEDULED = Status.SCHEDULED, _("programmé")
    RECEIVING = Status.RECEIVING, _("en réception")
    READY = Status.READY, _("prêt à lire")
    ASSIGNED = Status.ASSIGNED, _("attribué")
    IN_READING = Status.IN_READING, _("en lecture")
    REPORTED = Status.REPORTED, _("CR signé")
    DELIVERED = Status.DELIVERED, _("CR transmis")
    CANCELLED = Status.CANCELLED, _("annulé")


class Priority(models.TextChoices):
    VITAL = "VITAL", _("urgence vitale")
    URGENT = "URGENT", _("urgent")
    STANDARD = "STANDARD", _("standard")
    SCHEDULED = "SCHEDULED", _("programmé")


# Sort key: lower is more urgent (used by worklist ordering).
PRIORITY_RANK = {Priority.VITAL: 0, Priority.URGENT: 1, Priority.STANDARD: 2, Priority.SCHEDULED: 3}


class Exam(models.Model):
    """One DICOM study received from (or requested by) a site."""

    site = models.ForeignKey(Site, verbose_name=_("établissement"), on_delete=models.PROTECT, related_name="exams")
    source_modality = models.ForeignKey(
        Modality,
        verbose_name=_("modalité d'origine"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exams",
    )
    study_instance_uid = models.CharField(_("Study Instance UID"), max_length=64, unique=True)
    accession_number = models.CharField(_("numéro d'accession"), max_length=16, blank=True, db_index=True)
    patient_name = models.CharField(_("nom du patient"), max_length=200, blank=True)
    patient_id = models.CharField(_("identifiant patient"), max_length=64, blank=True, db_index=True)
    issuer_of_patient_id = models.CharField(_("émetteur de l'identifiant"), max_length=64, blank=True)
    patient_birth_date = models.DateField(_("date de naissance"), null=True, blank=True)
    patient_sex = models.CharField(_("sexe"), max_length=1, blank=True)
    study_datetime = models.DateTimeField(_("date de l'examen"), null=True, blank=True)
    study_description = models.CharField(_("description"), max_length=200, blank=True)
    modality = models.CharField(_("modalité"), max_length=16, blank=True)
    body_part_examined = models.CharField(_("région anatomique"), max_length=64, blank=True)
    referring_physician_name = models.CharField(_("médecin demandeur"), max_length=200, blank=True)
    # The Subspecialty code of the request's catalogue item, copied at matching: routing reads it.
    requested_subspecialty = models.CharField(_("surspécialité demandée"), max_length=30, blank=True)
    priority = models.CharField(_("priorité"), max_length=10, choices=Priority.choices, default=Priority.STANDARD)
    status = models.CharField(
        _("statut"),
        max_length=12,
        choices=ExamStatus.choices,
        default=ExamStatus.RECEIVING,
        help_text=_("Modifié uniquement par worklist.services.exam_transition."),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("attribué à"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_exams",
    )
    number_of_series = models.PositiveIntegerField(_("séries"), default=0)
    number_of_instances = models.PositiveIntegerField(_("images"), default=0)
    received_bytes = models.PositiveBigIntegerField(_("octets reçus"), default=0)
    received_at = models.DateTimeField(_("reçu le"), null=True, blank=True)
    last_instance_at = models.DateTimeField(_("dernière image le"), null=True, blank=True)
    ready_at = models.DateTimeField(_("prêt le"), null=True, blank=True)
    # Set by the exam_ready task once the exam is in a reader's list or the
    # GHT's pool; the sweep re-sends exam_ready for READY exams without it.
    routed_at = models.DateTimeField(_("orienté le"), null=True, blank=True)
    # A series that arrived after the exam was READY: shown to whoever holds it.
    new_series_at = models.DateTimeField(_("nouvelle série reçue le"), null=True, blank=True)
    # "Images incomplètes" (the site): out of the readers' lists until an image arrives after it.
    images_incomplete_at = models.DateTimeField(_("images incomplètes signalées le"), null=True, blank=True)
    # Routing: why the exam went where it is (shown on the exam), and its SLA.
    routing_reason = models.TextField(_("motif d'orientation"), blank=True)
    routing_rule = models.ForeignKey(
        "RoutingRule", verbose_name=_("règle"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    routing_level = models.PositiveSmallIntegerField(_("niveau de subsidiarité"), null=True, blank=True)
    in_pool = models.BooleanField(_("dans le pool du GHT"), default=False)
    deadline_at = models.DateTimeField(_("délai garanti"), null=True, blank=True)
    escalation_step = models.PositiveSmallIntegerField(_("étape d'escalade"), default=0)
    status_changed_at = models.DateTimeField(_("statut changé le"), auto_now_add=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("examen")
        verbose_name_plural = _("examens")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in Status]), name="exam_status_valid"),
        ]
        indexes = [
            # Worklists filter open exams by site, newest first.
            models.Index(fields=["site", "status", "-received_at"], name="exam_site_status_idx"),
            # The stability sweep scans exams still receiving by last instance time.
            models.Index(fields=["last_instance_at"], name="exam_receiving_idx", condition=Q(status="RECEIVING")),
            # The routing sweep re-sends exam_ready for READY exams never routed.
            models.Index(
                fields=["ready_at"], name="exam_unrouted_idx", condition=Q(status="READY", routed_at__isnull=True)
            ),
            # The inactivity sweep scans exams being read by claim time.
            models.Index(fields=["status_changed_at"], name="exam_in_reading_idx", condition=Q(status="IN_READING")),
        ]

    def __str__(self) -> str:
        return f"{self.study_description or _('Examen')} #{self.pk}"


class Series(models.Model):
    exam = models.ForeignKey(Exam, verbose_name=_("examen"), on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(_("Series Instance UID"), max_length=64, unique=True)
    series_number = models.IntegerField(_("numéro de série"), null=True, blank=True)
    series_description = models.CharField(_("description"), max_length=200, blank=True)
    modality = models.CharField(_("modalité"), max_length=16, blank=True)
    body_part_examined = models.CharField(_("région anatomique"), max_length=64, blank=True)
    number_of_instances = models.PositiveIntegerField(_("images"), default=0)
    received_at = models.DateTimeField(_("reçue le"), auto_now_add=True)

    class Meta:
        verbose_name = _("série")
        verbose_name_plural = _("séries")
        ordering = ["series_number", "id"]

    def __str__(self) -> str:
        return self.series_description or str(self.series_number or self.pk)


class Instance(models.Model):
    series = models.ForeignKey(Series, verbose_name=_("série"), on_delete=models.CASCADE, related_name="instances")
    # Unique by a constraint, not unique=True: on PostgreSQL the latter adds a second
    # (varchar_pattern_ops) index for LIKE, never used on UIDs, on the largest table.
    sop_instance_uid = models.CharField(_("SOP Instance UID"), max_length=64)
    sop_class_uid = models.CharField(_("SOP Class UID"), max_length=64)
    transfer_syntax_uid = models.CharField(_("syntaxe de transfert"), max_length=64, blank=True)
    instance_number = models.IntegerField(_("numéro d'image"), null=True, blank=True)
    # Along the slice normal (dicom_gateway.indexing.slice_position): the viewer's order.
    slice_position = models.FloatField(_("position de coupe (mm)"), null=True, blank=True)
    # A hash-derived key inside STORAGE_ROOT; never a UID or dataset text.
    storage_key = models.CharField(_("clé de stockage"), max_length=128)
    size = models.PositiveBigIntegerField(_("taille (octets)"), default=0)
    received_at = models.DateTimeField(_("reçue le"), auto_now_add=True)

    class Meta:
        verbose_name = _("image")
        verbose_name_plural = _("images")
        ordering = ["instance_number", "id"]
        constraints = [models.UniqueConstraint(fields=["sop_instance_uid"], name="instance_unique_sop_instance_uid")]

    def __str__(self) -> str:
        return self.sop_instance_uid


class ExamEvent(models.Model):
    """One step of an exam's timeline (status change, routing, escalation…): the medico-legal history."""

    class Kind(models.TextChoices):
        STATUS = "status", _("changement de statut")
        ROUTED = "routed", _("orientation")
        POOLED = "pooled", _("mise au pool")
        REASSIGNED = "reassigned", _("réattribution")
        ESCALATED = "escalated", _("escalade")
        NOTE = "note", _("note")

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.STATUS)
    from_status = models.CharField(_("ancien statut"), max_length=12, choices=ExamStatus.choices)
    to_status = models.CharField(_("nouveau statut"), max_length=12, choices=ExamStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    reason = models.CharField(_("motif"), max_length=500, blank=True)
    at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("événement d'examen")
        verbose_name_plural = _("événements d'examen")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.exam_id}: {self.from_status} → {self.to_status}"


class RoutingRule(models.Model):
    """A GHT rule: exams that match need a reader of a subspecialty (see worklist.routing.Rule)."""

    ght = models.ForeignKey(Ght, verbose_name=_("GHT"), on_delete=models.CASCADE, related_name="routing_rules")
    name = models.CharField(_("nom"), max_length=200)
    order = models.PositiveIntegerField(
        _("ordre"), default=100, help_text=_("La première règle qui convient s'applique.")
    )
    subspecialty = models.ForeignKey(
        Subspecialty, verbose_name=_("surspécialité requise"), on_delete=models.PROTECT, related_name="+"
    )
    modality_types = models.CharField(_("types de modalité"), max_length=100, blank=True)
    body_part_pattern = models.CharField(_("région anatomique (expression régulière)"), max_length=200, blank=True)
    description_pattern = models.CharField(_("description (expression régulière)"), max_length=200, blank=True)
    requested_subspecialty = models.ForeignKey(
        Subspecialty,
        verbose_name=_("surspécialité demandée"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    max_age_years = models.PositiveSmallIntegerField(_("âge maximal (ans)"), null=True, blank=True)
    strict = models.BooleanField(
        _("stricte"), default=False, help_text=_("Sans spécialiste de garde : pool (stricte) ou lecteur généraliste.")
    )
    deadline_minutes = models.PositiveIntegerField(
        _("délai garanti (minutes)"),
        null=True,
        blank=True,
        help_text=_("Vide : le délai de la priorité. Sinon, le délai des examens orientés par cette règle."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("règle d'orientation")
        verbose_name_plural = _("règles d'orientation")
        ordering = ["ght", "order", "id"]

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Délai garanti: the deadline of an exam by priority, per GHT."""

    ght = models.ForeignKey(Ght, verbose_name=_("GHT"), on_delete=models.CASCADE, related_name="sla_policies")
    priority = models.CharField(_("priorité"), max_length=10, choices=Priority.choices)
    deadline_minutes = models.PositiveIntegerField(_("délai (minutes)"))

    class Meta:
        verbose_name = _("délai garanti")
        verbose_name_plural = _("délais garantis")
        constraints = [models.UniqueConstraint(fields=["ght", "priority"], name="sla_unique_per_ght_priority")]

    def __str__(self) -> str:
        return f"{self.ght} {self.priority} {self.deadline_minutes} min"


class EscalationStep(models.Model):
    """One step of a GHT's subsidiarity chain: the level reached after a delay."""

    class Level(models.IntegerChoices):
        SITE = 0, _("lecteurs de l'établissement")
        GHT = 1, _("lecteurs du GHT")
        REGION = 2, _("plateforme régionale")
        EXTERNAL = 3, _("prestataire externe")

    ght = models.ForeignKey(Ght, verbose_name=_("GHT"), on_delete=models.CASCADE, related_name="escalation_steps")
    order = models.PositiveSmallIntegerField(_("ordre"))
    level = models.PositiveSmallIntegerField(_("niveau"), choices=Level.choices)
    delay_minutes = models.PositiveIntegerField(
        _("après (minutes)"), default=0, help_text=_("Attente avant de passer à ce niveau.")
    )
    external_ae_title = models.CharField(_("titre AE du prestataire"), max_length=16, blank=True)
    external_host = models.CharField(_("hôte du prestataire"), max_length=255, blank=True)
    external_port = models.PositiveIntegerField(_("port du prestataire"), null=True, blank=True)
    contact = models.CharField(_("contact"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("étape d'escalade")
        verbose_name_plural = _("chaîne d'escalade")
        ordering = ["ght", "order"]
        constraints = [models.UniqueConstraint(fields=["ght", "order"], name="escalation_unique_order")]

    def __str__(self) -> str:
        return f"{self.ght} {self.order}: {self.get_level_display()}"


class ExamCatalogueItem(models.Model):
    """An exam a site may request, from its GHT's catalogue ("Scanner cérébral sans injection"…)."""

    ght = models.ForeignKey(Ght, verbose_name=_("GHT"), on_delete=models.CASCADE, related_name="exam_catalogue")
    code = models.CharField(_("code"), max_length=16, help_text=_("Code de l'acte, transmis à la modalité."))
    name = models.CharField(_("libellé"), max_length=200)
    modality = models.CharField(_("modalité"), max_length=16)
    body_part = models.CharField(_("région anatomique"), max_length=64, blank=True)
    subspecialty = models.ForeignKey(
        Subspecialty, verbose_name=_("surspécialité"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    contrast = models.BooleanField(_("avec injection"), default=False)
    active = models.BooleanField(_("actif"), default=True)

    class Meta:
        verbose_name = _("acte du catalogue")
        verbose_name_plural = _("catalogue des examens")
        ordering = ["ght", "name"]
        constraints = [models.UniqueConstraint(fields=["ght", "code"], name="catalogue_unique_code")]

    def __str__(self) -> str:
        return self.name


class ExamRequest(models.Model):
    """A site's request for an exam (demande d'examen), validated by a remote radiologist before acquisition.

    Its own small lifecycle (requested → scheduled, or more information asked,
    or refused; cancelled at any time before the images) ends when a received
    study is matched to it; from then on the Exam carries the status.
    See docs/decisions/006.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("demandé")
        INFO_NEEDED = "info_needed", _("complément demandé")
        SCHEDULED = "scheduled", _("validé")
        REFUSED = "refused", _("refusé")
        CANCELLED = "cancelled", _("annulé")
        DONE = "done", _("réalisé")

    class InsStatus(models.TextChoices):
        UNKNOWN = "", _("inconnue")
        PROVISIONAL = "provisional", _("provisoire")
        QUALIFIED = "qualified", _("qualifiée")

    class Pregnancy(models.TextChoices):
        NOT_APPLICABLE = "na", _("sans objet")
        NO = "no", _("non")
        POSSIBLE = "possible", _("possible")
        YES = "yes", _("oui")

    class IdentityStatus(models.TextChoices):
        NONE = "", _("conforme")
        OPEN = "open", _("discordance à résoudre")
        CONFIRMED = "confirmed", _("même patient, confirmé par le site")
        CORRECTED = "corrected", _("demande corrigée par le site")

    class MatchMethod(models.TextChoices):
        STUDY_UID = "study_uid", _("Study Instance UID")
        ACCESSION = "accession", _("numéro d'accession")
        DEMOGRAPHICS = "demographics", _("patient, date et modalité (à confirmer)")

    site = models.ForeignKey(Site, verbose_name=_("établissement"), on_delete=models.PROTECT, related_name="requests")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("demandé par"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)
    status = models.CharField(_("état"), max_length=12, choices=Status.choices, default=Status.REQUESTED)
    # Patient identity, as the site knows it (compared with the DICOM header at matching).
    patient_family_name = models.CharField(_("nom d'usage"), max_length=100)
    patient_birth_name = models.CharField(_("nom de naissance"), max_length=100, blank=True)
    patient_given_name = models.CharField(_("prénom"), max_length=100)
    patient_birth_date = models.DateField(_("date de naissance"))
    patient_sex = models.CharField(
        _("sexe"), max_length=1, choices=[("F", _("féminin")), ("M", _("masculin")), ("O", _("autre"))]
    )
    patient_id = models.CharField(_("IPP (identifiant du site)"), max_length=64)
    ins = models.CharField(_("INS"), max_length=15, blank=True, help_text=_("Matricule INS (15 chiffres)."))
    ins_status = models.CharField(_("statut de l'INS"), max_length=12, choices=InsStatus.choices, blank=True)
    requesting_physician = models.CharField(_("médecin demandeur"), max_length=200)
    clinical_question = models.TextField(_("question clinique"))
    indication = models.TextField(_("indication"), blank=True)
    priority = models.CharField(_("urgence"), max_length=10, choices=Priority.choices, default=Priority.URGENT)
    catalogue_item = models.ForeignKey(
        ExamCatalogueItem, verbose_name=_("examen demandé"), on_delete=models.PROTECT, related_name="requests"
    )
    scheduled_modality = models.ForeignKey(
        Modality,
        verbose_name=_("appareil"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        help_text=_("La modalité qui réalisera l'examen (sa liste de travail DICOM)."),
    )
    renal_function = models.CharField(_("fonction rénale"), max_length=100, blank=True)
    contrast_allergy = models.BooleanField(_("allergie aux produits de contraste"), default=False)
    pregnancy = models.CharField(
        _("grossesse"), max_length=10, choices=Pregnancy.choices, default=Pregnancy.NOT_APPLICABLE
    )
    # Protocol validation: routed like an exam to the reader on duty.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("radiologue validateur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests_to_validate",
    )
    routing_reason = models.TextField(_("motif d'orientation"), blank=True)
    deadline_at = models.DateTimeField(_("délai de validation"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("relancé le"), null=True, blank=True)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("validé par"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    validated_at = models.DateTimeField(_("validé le"), null=True, blank=True)
    protocol = models.TextField(_("protocole"), blank=True)
    radiologist_comment = models.TextField(_("commentaire du radiologue"), blank=True)
    # Given at validation, published on the DICOM Modality Worklist.
    accession_number = models.CharField(_("numéro d'accession"), max_length=16, blank=True)
    study_instance_uid = models.CharField(_("Study Instance UID"), max_length=64, blank=True)
    cancel_reason = models.CharField(_("motif d'annulation"), max_length=500, blank=True)
    # Set when a received study is matched to the request.
    exam = models.OneToOneField(
        Exam, verbose_name=_("examen"), on_delete=models.PROTECT, null=True, blank=True, related_name="request"
    )
    match_method = models.CharField(_("rapprochement"), max_length=16, choices=MatchMethod.choices, blank=True)
    match_confirmed = models.BooleanField(_("rapprochement confirmé"), default=True)
    # Identity vigilance: the study's patient differs from the request's (worklist.identity).
    identity_status = models.CharField(
        _("vigilance identité"), max_length=10, choices=IdentityStatus.choices, blank=True
    )
    identity_mismatches = models.JSONField(_("discordances"), default=list, blank=True)
    identity_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("discordance résolue par"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    identity_resolved_at = models.DateTimeField(_("discordance résolue le"), null=True, blank=True)
    identity_note = models.CharField(_("note de résolution"), max_length=500, blank=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("demande d'examen")
        verbose_name_plural = _("demandes d'examen")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["accession_number"], condition=~Q(accession_number=""), name="request_unique_accession"
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | ~Q(accession_number=""), name="request_scheduled_has_accession"
            ),
        ]
        indexes = [
            # The validation sweep and the reader's list: requests waiting for a radiologist.
            models.Index(fields=["deadline_at"], name="request_open_idx", condition=Q(status="requested")),
            # Matching a received study and the DICOM worklist: scheduled requests of a site.
            models.Index(
                fields=["site", "accession_number"], name="request_scheduled_idx", condition=Q(status="scheduled")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.catalogue_item} – {self.patient_family_name} {self.patient_given_name}"

    @property
    def patient_name(self) -> str:
        """DICOM PN: FAMILY^Given."""
        return f"{self.patient_family_name.upper()}^{self.patient_given_name}"


class ExamMessage(models.Model):
    """A message about one exam between the site (MERM) and its reader ("patient agité, refaire ?")."""

    exam = models.ForeignKey(Exam, verbose_name=_("examen"), on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("auteur"), on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(_("message"), max_length=2000)
    created_at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("message d'examen")
        verbose_name_plural = _("messages d'examen")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.exam_id} {self.author}: {self.text[:40]}"


def _request_document_path(instance: "RequestDocument", filename: str) -> str:
    # A random name: nothing the uploader chose (nor any patient text) becomes a path.
    return f"requests/{uuid.uuid4().hex}{REQUEST_DOCUMENT_TYPES.get(instance.content_type, '')}"


# What a referral may be: a PDF or a photo/scan of it (checked on the bytes, not the name).
REQUEST_DOCUMENT_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


class RequestDocument(models.Model):
    """A document attached to an exam request (referral letter, previous report…)."""

    request = models.ForeignKey(
        ExamRequest, verbose_name=_("demande"), on_delete=models.CASCADE, related_name="documents"
    )
    file = models.FileField(_("fichier"), upload_to=_request_document_path)
    original_name = models.CharField(_("nom du fichier"), max_length=200)
    content_type = models.CharField(_("type"), max_length=50)
    size = models.PositiveIntegerField(_("taille (octets)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("déposé par"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("déposé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("document de la demande")
        verbose_name_plural = _("documents de la demande")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name
