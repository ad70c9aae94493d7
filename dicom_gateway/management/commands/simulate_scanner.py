"""Send a synthetic study to the gateway as a scanner would (demos and tests)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dicom_gateway.simulator import SHAPES, build_study, send_study, study_from_worklist, worklist_find


class Command(BaseCommand):
    help = "Build a synthetic study (phantom images, no patient data) and send it by C-STORE."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ae", required=True, help="calling AE title: a Modality's, e.g. CT_LANDERNEAU")
        parser.add_argument(
            "--study", choices=sorted(SHAPES), default=None, help="study shape (default: ct-head, or from the worklist)"
        )
        parser.add_argument("--count", type=int, help="number of instances (default: the shape's)")
        parser.add_argument("--urgent", action="store_true", help="mark the request STAT")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None, help="default: DICOM_PORT")
        parser.add_argument("--called-ae", default=None, help="default: DICOM_AE_TITLE")
        parser.add_argument("--patient-name", default="DEMO^Simulé")
        parser.add_argument("--accession", default="", help="AccessionNumber (with --from-worklist: the entry to pick)")
        parser.add_argument(
            "--from-worklist",
            action="store_true",
            help="first query the gateway's Modality Worklist (C-FIND) as this AE and acquire its entry "
            "(--accession, else the first): patient, AccessionNumber and StudyInstanceUID come from it",
        )

    def handle(self, *args, **options) -> None:
        peer = {
            "host": options["host"],
            "port": options["port"] or settings.DICOM_PORT,
            "calling_ae": options["ae"],
            "called_ae": options["called_ae"] or settings.DICOM_AE_TITLE,
        }
        try:
            if options["from_worklist"]:
                entries = worklist_find(**peer, accession_number=options["accession"])
                if not entries:
                    raise CommandError(f"no worklist entry for {options['ae']} {options['accession']}".rstrip())
                entry = entries[0]
                self.stdout.write(
                    f"worklist: {len(entries)} entry(ies); acquiring accession {entry.get('AccessionNumber', '')}"
                )
                datasets = study_from_worklist(entry, options["study"], count=options["count"])
            else:
                datasets = build_study(
                    options["study"] or "ct-head",
                    count=options["count"],
                    urgent=options["urgent"],
                    patient_name=options["patient_name"],
                    accession_number=options["accession"],
                )
            result = send_study(datasets, **peer)
        except ConnectionError as exc:
            raise CommandError(f"{exc} (is the gateway running, and is {options['ae']} an enabled modality?)") from exc
        codes = ", ".join(f"0x{code:04X}×{n}" for code, n in sorted(result.statuses.items()))
        self.stdout.write(f"{result.sent} instance(s) stored, {result.failed} refused ({codes})")
        if result.failed:
            raise CommandError("some instances were refused; see the gateway's log")
