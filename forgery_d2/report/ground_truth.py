"""Ground truth for a report, per figure: from a folder of ``<case_id>.npy`` masks (the
competition's ``train_masks`` layout: no file = authentic) or from a solution CSV
(``case_id,annotation,shape``, the scorer's file).

Instances are kept as runs arrays (:mod:`forgery_d2.competition.rle`), every channel as stored
(empty channels included, as :func:`forgery_d2.evaluation.ground_truth.gt_annotation` writes them),
so the report's oF1 is the one the scorer gives on the same rows.
"""

import json
import os
from typing import Optional

from forgery_d2.competition.rle import mask_to_runs, parse_annotation, runs_to_mask
from forgery_d2.competition.submission import read_solution_csv
from forgery_d2.data.io import read_mask

from .records import PredictionRecord, PredictionsError

__all__ = ["GroundTruth"]


class GroundTruth:
    """Ground-truth instances of the figures of a report; see the module docstring."""

    def __init__(self, masks_dir: Optional[str] = None, solution: Optional[str] = None):
        if (masks_dir is None) == (solution is None):
            raise ValueError("GroundTruth needs exactly one of masks_dir or solution")
        self.masks_dir = os.fspath(masks_dir) if masks_dir is not None else None
        self.solution_path = os.fspath(solution) if solution is not None else None
        self._solution = None
        if self.masks_dir is not None:
            if not os.path.isdir(self.masks_dir):
                raise PredictionsError(f"ground-truth mask folder not found: {self.masks_dir}")
            if not any(name.endswith(".npy") for name in os.listdir(self.masks_dir)):
                raise PredictionsError(
                    f"ground-truth mask folder {self.masks_dir} has no <case_id>.npy file"
                )
        else:
            frame = read_solution_csv(self.solution_path)  # validated: header, keys, shapes, RLEs
            self._solution = {
                str(case_id): (annotation, tuple(json.loads(shape)))
                for case_id, annotation, shape in zip(
                    frame["case_id"], frame["annotation"], frame["shape"]
                )
            }
        self.used = set()

    @property
    def source(self) -> str:
        """The folder or file the ground truth comes from."""
        return self.masks_dir or self.solution_path

    def runs(self, record: PredictionRecord):
        """The figure's ground truth: None for authentic, else one runs array per instance.

        Raises PredictionsError when the solution has no row for the figure or a different shape,
        DataError for an unreadable mask file or one whose size differs from the figure's.
        """
        self.used.add(record.case_id)
        if self.masks_dir is not None:
            path = os.path.join(self.masks_dir, record.case_id + ".npy")
            if not os.path.isfile(path):
                return None
            known = record.shape if record.readable else None  # unreadable: size may be unknown
            return [mask_to_runs(channel) for channel in read_mask(path, known)]
        if record.case_id not in self._solution:
            raise PredictionsError(
                f"{record.where}: no row for this case_id in the solution {self.solution_path}"
            )
        annotation, shape = self._solution[record.case_id]
        if record.readable and shape != record.shape:
            raise PredictionsError(
                f"{record.where}: the figure is {record.height}x{record.width} "
                f"(H x W) but the solution {self.solution_path} says "
                f"{list(shape)}"
            )
        return parse_annotation(annotation, shape)

    @staticmethod
    def masks(runs, shape):
        """``(H, W)`` uint8 masks of a :meth:`runs` result (empty list for authentic)."""
        return [runs_to_mask(r, shape) for r in runs or ()]

    def unscreened(self):
        """case_ids of the solution that no record asked for (a partial predictions file)."""
        if self._solution is None:
            return []
        return sorted(set(self._solution) - self.used)
