"""The competition's file formats, shared by data generation, evaluation and the tools.

- :mod:`.rle`: the run-length encoding of masks (column-major, 1-based, ``;``-joined,
  ``authentic``).
- :mod:`.submission`: submission (``case_id,annotation``) and solution
  (``case_id,annotation,shape``) CSVs: read, validate, write.

This package depends on numpy and pandas only, so anything may import it.
"""

from .rle import (
    AUTHENTIC,
    RLEError,
    decode_annotation,
    encode_annotation,
    mask_to_runs,
    parse_annotation,
    rle_decode,
    rle_encode,
    runs_to_mask,
    runs_to_rle,
)
from .submission import (
    SOLUTION_COLUMNS,
    SUBMISSION_COLUMNS,
    SubmissionError,
    align_submission,
    dataset_keys,
    read_solution_csv,
    read_submission_csv,
    write_csv,
    write_submission_csv,
)

__all__ = [
    "AUTHENTIC",
    "RLEError",
    "decode_annotation",
    "encode_annotation",
    "mask_to_runs",
    "parse_annotation",
    "rle_decode",
    "rle_encode",
    "runs_to_mask",
    "runs_to_rle",
    "SOLUTION_COLUMNS",
    "SUBMISSION_COLUMNS",
    "SubmissionError",
    "align_submission",
    "dataset_keys",
    "read_solution_csv",
    "read_submission_csv",
    "write_csv",
    "write_submission_csv",
]
