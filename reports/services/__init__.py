"""Writes of the reports app, by subject; import them from here (``from reports import services``).

- reports: draft, autosave, templates, signature, addenda, deliveries;
- critical: critical findings, their acknowledgement and escalation;
- opinions: téléexpertise requests, their routing, answers and escalation.
"""

from core.exceptions import ApplicationError, ConflictError
from reports.services.critical import critical_alert_acknowledge, critical_alert_raise, critical_alerts_escalate
from reports.services.opinions import (
    opinion_answer,
    opinion_cite_in_report,
    opinion_request_create,
    opinions_escalate,
)
from reports.services.reports import (
    EDITABLE_FIELDS,
    ReportFrozen,
    SignatureRefused,
    StaleDraft,
    addendum_sign,
    dose_text,
    exam_dose,
    report_apply_template,
    report_deliveries_create,
    report_draft_preview,
    report_get_or_create_draft,
    report_missing_parts,
    report_save_draft,
    report_sign,
    report_templates_install_defaults,
)

__all__ = [
    "EDITABLE_FIELDS",
    "ApplicationError",
    "ConflictError",
    "ReportFrozen",
    "SignatureRefused",
    "StaleDraft",
    "addendum_sign",
    "critical_alert_acknowledge",
    "critical_alert_raise",
    "critical_alerts_escalate",
    "dose_text",
    "exam_dose",
    "opinion_answer",
    "opinion_cite_in_report",
    "opinion_request_create",
    "opinions_escalate",
    "report_apply_template",
    "report_deliveries_create",
    "report_draft_preview",
    "report_get_or_create_draft",
    "report_missing_parts",
    "report_save_draft",
    "report_sign",
    "report_templates_install_defaults",
]
