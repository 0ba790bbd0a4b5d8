"""Patient records: the data contract, validation, resampling, targets and twin files."""

from dt1d.data.limits import PlausibilityLimits, use_limits
from dt1d.data.readers import (
    ReaderError,
    list_readers,
    read,
    read_carelink,
    read_csv,
    read_dexcom_clarity,
    read_frame,
    read_libreview,
    read_nightscout,
    read_ohio,
    read_parquet,
    read_replaybg,
    read_tidepool,
)
from dt1d.data.resample import resample
from dt1d.data.schema import (
    BASAL,
    BOLUS,
    CARBS,
    GLUCOSE,
    INSULIN,
    LONG_ACTING_INSULIN,
    MGDL_PER_MMOLL,
    PATIENT_ID,
    TIME,
    DataValidationError,
    infer_step,
    iter_patients,
    validate,
)
from dt1d.data.targets import horizons_of, make_target

# Twin files live in dt1d.data.twinfile (write_twin_file, read_twin_file, TwinFileError).

__all__ = [
    "BASAL",
    "BOLUS",
    "CARBS",
    "GLUCOSE",
    "INSULIN",
    "LONG_ACTING_INSULIN",
    "MGDL_PER_MMOLL",
    "PATIENT_ID",
    "TIME",
    "DataValidationError",
    "PlausibilityLimits",
    "ReaderError",
    "list_readers",
    "read",
    "read_carelink",
    "read_csv",
    "read_dexcom_clarity",
    "read_frame",
    "read_libreview",
    "read_nightscout",
    "read_ohio",
    "read_parquet",
    "read_replaybg",
    "read_tidepool",
    "resample",
    "horizons_of",
    "infer_step",
    "iter_patients",
    "make_target",
    "use_limits",
    "validate",
]
