"""C-STORE response statuses we return (PS3.4 Annex B.2.3), in one table.

The modality shows these codes to its operator; on-call engineers need them exact.
"""

SUCCESS = 0x0000
# Refused: out of resources. The scanner should retry later (disk full, database down).
OUT_OF_RESOURCES = 0xA700
# Error: data set does not match SOP class.
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
# Error: cannot understand (unreadable dataset, missing or malformed UIDs).
CANNOT_UNDERSTAND = 0xC000
# Processing failure: anything we did not foresee (never let pynetdicom answer 0xC211).
PROCESSING_FAILURE = 0x0110

NAMES = {
    SUCCESS: "success",
    OUT_OF_RESOURCES: "out_of_resources",
    DATASET_DOES_NOT_MATCH_SOP_CLASS: "dataset_does_not_match_sop_class",
    CANNOT_UNDERSTAND: "cannot_understand",
    PROCESSING_FAILURE: "processing_failure",
}
