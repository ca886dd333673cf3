"""Ground truth of evaluated images, as the competition scores it.

Ground truth is always the ``mask_file``'s channels as stored (one instance per channel, what the
scorer reads), never the connected-component split that training may use. The image label comes
from :func:`forgery_d2.data.records.record_label`.

- :class:`GroundTruthLoader`: the masks of one evaluated input (looking missing fields up in the
  registered dataset).
- :func:`check_labelled`: fail before inference, not after it, on a dataset that cannot be scored.
- :func:`gt_annotation`, :func:`solution_rows`, :func:`write_solution_csv`: a dataset's solution CSV
  (``case_id,annotation,shape``).
"""

import json

from detectron2.data import DatasetCatalog

from forgery_d2.competition.rle import AUTHENTIC, rle_encode
from forgery_d2.competition.submission import (
    SOLUTION_COLUMNS,
    SubmissionError,
    dataset_keys,
    write_csv,
)
from forgery_d2.data.io import DataError, read_mask
from forgery_d2.data.records import record_label

__all__ = [
    "GroundTruthLoader",
    "check_labelled",
    "gt_annotation",
    "solution_rows",
    "write_solution_csv",
]


def check_labelled(dataset_name: str) -> int:
    """Raise DataError (naming the dataset, how many images and the first one) when images of a
    registered dataset have no usable label: it cannot be scored. Returns the number of images."""
    dicts = DatasetCatalog.get(dataset_name)
    unlabelled = []
    for record in dicts:
        try:
            record_label(record)
        except DataError as e:
            unlabelled.append(e)
    if unlabelled:
        raise DataError(
            f"dataset {dataset_name}: {len(unlabelled)} of {len(dicts)} images cannot "
            f"be scored; first: {unlabelled[0]}"
        )
    return len(dicts)


class GroundTruthLoader:
    """Ground-truth masks of an evaluated image: the dict's ``mask_file`` channels (or None for an
    authentic image). Fields the mapper did not pass are looked up in the registered dataset."""

    def __init__(self, dataset_name=None):
        self._dataset_name = dataset_name
        self._index = None

    def _record(self, inp):
        if "label" in inp and ("mask_file" in inp or inp["label"] == 0) and "case_id" in inp:
            return inp
        if self._index is None:
            if self._dataset_name is None:
                raise KeyError(
                    f"input {inp.get('image_id')} lacks label/mask_file/case_id and no dataset_name was given"
                )
            self._index = {d["image_id"]: d for d in DatasetCatalog.get(self._dataset_name)}
        try:
            return {**self._index[inp["image_id"]], **inp}
        except KeyError:
            raise KeyError(
                f"image_id {inp.get('image_id')!r} is not in dataset {self._dataset_name!r}"
            ) from None

    def __call__(self, inp):
        """Returns ``(record, masks)``: the merged dataset dict and ``uint8 (N, H, W)`` or None."""
        record = self._record(inp)
        if record_label(record) == 0:
            return record, None
        if not record.get("mask_file"):
            raise ValueError(
                f"image {record.get('image_id')} is labelled forged but has no mask_file"
            )
        return record, read_mask(record["mask_file"], (record["height"], record["width"]))


def gt_annotation(record) -> str:
    """The solution annotation of one dataset dict: its mask file's channels as stored (empty
    channels kept as ``[]``, as the competition's encoder writes them), or ``authentic``."""
    if record_label(record) == 0:
        return AUTHENTIC
    if not record.get("mask_file"):
        raise SubmissionError(
            f"image {record.get('image_id')} ({record.get('file_name')}) is labelled forged "
            "but has no mask_file: cannot write its ground truth"
        )
    masks = read_mask(record["mask_file"], (record["height"], record["width"]))
    if len(masks) == 0:
        raise SubmissionError(
            f"mask file {record['mask_file']} has no channel for forged image {record.get('image_id')}"
        )
    return ";".join(json.dumps(rle_encode(m)) for m in masks)


def solution_rows(dataset_dicts):
    """``(key, annotation, shape)`` ground-truth rows of dataset dicts (see ``dataset_keys``)."""
    for key, record in zip(dataset_keys(dataset_dicts), dataset_dicts):
        yield key, gt_annotation(record), json.dumps([int(record["height"]), int(record["width"])])


def write_solution_csv(dataset_name: str, path) -> str:
    """Write the solution CSV of a registered dataset (ground truth = mask files' channels)."""
    return write_csv(path, SOLUTION_COLUMNS, list(solution_rows(DatasetCatalog.get(dataset_name))))
