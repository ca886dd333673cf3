"""The decision rule: model outputs -> the final instance masks of one image (none = ``authentic``).

The evaluator, ``tools/predict.py`` and the sweep all call :class:`DecisionRule`, so validation
scores are exactly what a submission would score. Steps, in order:

1. **Image decision.** The image score is the model's ``image_score`` when it gives one, else its top
   instance score (0 with no instance). Below ``IMAGE_THRESH`` the image is ``authentic``.
2. **Instance score.** Instances with ``score < SCORE_THRESH`` are dropped.
3. **Binarize.** ``bool`` masks are used as they are; ``uint8`` soft masks (probability x 255) are
   foreground where ``value >= MASK_THRESH * 255``; float masks where ``value >= MASK_THRESH``.
4. **Minimum area.** Instances smaller than ``max(MIN_AREA, MIN_AREA_FRACTION * H * W)`` pixels
   (and empty ones, always) are dropped.
5. **Merge.** Instances that overlap (mask IoU >= ``MERGE_IOU`` or intersection / smaller area >=
   ``MERGE_CONTAINMENT``) are replaced by their union (connected components of the overlap graph),
   scored by their best member.
6. **Cap.** At most ``MAX_INSTANCES`` instances (highest scores) are kept; none left = authentic.

The default values, and why each is what it is (derived from the metric, not from data), are
written once, next to their keys in forgery_d2/config.py (``FORGERY.DECISION``);
:mod:`forgery_d2.evaluation.sweep` tunes them on a validation set.
"""

from dataclasses import dataclass, field

import numpy as np

from forgery_d2.competition.rle import encode_annotation, mask_to_runs
from forgery_d2.config import ConfigError, ConfigParams
from forgery_d2.structures.masks import binarize_masks, to_numpy

from .metric import runs_intersection

__all__ = ["DecisionRule", "Decision", "image_score_of", "CONFIG_KEYS"]


@dataclass
class Decision:
    """The decision on one image: the final instances (``masks`` empty = authentic)."""

    masks: np.ndarray  # bool (K, H, W), K = 0 for authentic
    scores: np.ndarray  # float (K,), best member score of each (merged) instance
    image_score: float  # the image-level score compared with IMAGE_THRESH
    runs: list = field(default_factory=list, repr=False)  # competition runs of each mask
    # For each final instance, the indices (into the model output's instances, best score first)
    # of the instances merged into it: where its source / copy parts and transforms come from.
    members: list = field(default_factory=list)

    @property
    def forged(self) -> bool:
        return len(self.masks) > 0

    @property
    def annotation(self) -> str:
        """The submission annotation (``authentic`` or ``;``-joined RLEs)."""
        return encode_annotation(self.masks)

    def boxes(self) -> np.ndarray:
        """``float (K, 4)`` XYXY boxes of the final masks (for drawing)."""
        out = np.zeros((len(self.masks), 4), dtype=np.float32)
        for k, m in enumerate(self.masks):
            ys, xs = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
            out[k] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
        return out


def image_score_of(output: dict) -> float:
    """The image-level score of one model output: ``image_score`` if given, else the top instance
    score, else 0."""
    if output.get("image_score") is not None:
        return float(to_numpy(output["image_score"]).reshape(-1)[0])
    instances = output.get("instances")
    if instances is None or len(instances) == 0:
        return 0.0
    return float(to_numpy(instances.scores).max())


# DecisionRule field -> FORGERY.DECISION key.
CONFIG_KEYS = {
    "image_thresh": "IMAGE_THRESH",
    "score_thresh": "SCORE_THRESH",
    "mask_thresh": "MASK_THRESH",
    "min_area": "MIN_AREA",
    "min_area_fraction": "MIN_AREA_FRACTION",
    "merge_iou": "MERGE_IOU",
    "merge_containment": "MERGE_CONTAINMENT",
    "max_instances": "MAX_INSTANCES",
}


@dataclass(frozen=True)
class DecisionRule(ConfigParams):
    """Turns one model output into the final instances of an image; see the module docstring.
    One field per ``FORGERY.DECISION`` key (:data:`CONFIG_KEYS`); :meth:`default` is the
    configured default."""

    image_thresh: float
    score_thresh: float
    mask_thresh: float
    min_area: int
    min_area_fraction: float
    merge_iou: float
    merge_containment: float
    max_instances: int

    def __post_init__(self):
        """Raises ConfigError naming the FORGERY.DECISION key of an out-of-range value."""
        for name in (
            "score_thresh",
            "mask_thresh",
            "min_area_fraction",
            "merge_iou",
            "merge_containment",
        ):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ConfigError(
                    f"FORGERY.DECISION.{CONFIG_KEYS[name]} must be in [0, 1], got {value}"
                )
        # IMAGE_THRESH may exceed 1: above every image score, it calls every image authentic.
        if not 0.0 <= float(self.image_thresh) < float("inf"):
            raise ConfigError(
                "FORGERY.DECISION.IMAGE_THRESH must be a finite number >= 0, got "
                f"{self.image_thresh}"
            )
        for name in ("min_area", "max_instances"):
            value = getattr(self, name)
            if int(value) < 0:
                raise ConfigError(f"FORGERY.DECISION.{CONFIG_KEYS[name]} must be >= 0, got {value}")

    @classmethod
    def from_config(cls, cfg) -> "DecisionRule":
        """The rule configured by ``cfg.FORGERY.DECISION`` (ConfigError naming the key of a value
        that is not a number or out of range)."""
        d = cfg.FORGERY.DECISION
        values = {}
        for name, key in CONFIG_KEYS.items():
            kind = int if name in ("min_area", "max_instances") else float
            value = d[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (kind is int and isinstance(value, float) and not value.is_integer())
            ):
                expected = "an integer" if kind is int else "a number"
                raise ConfigError(f"FORGERY.DECISION.{key} must be {expected}, got {value!r}")
            values[name] = kind(value)
        return cls(**values)

    def to_config_dict(self) -> dict:
        """``{FORGERY.DECISION key: value}`` (what a decision.yaml holds)."""
        return {key: getattr(self, name) for name, key in CONFIG_KEYS.items()}

    def __call__(self, output: dict) -> Decision:
        """Apply the rule to one model output ``{"instances": Instances, ["image_score"]}``."""
        instances = output["instances"]
        image_score = image_score_of(output)
        height, width = instances.image_size
        if image_score < self.image_thresh or len(instances) == 0:
            return self._authentic(image_score, (height, width))
        scores = to_numpy(instances.scores).astype(np.float64)
        keep = np.flatnonzero(scores >= self.score_thresh)
        if len(keep) == 0:
            return self._authentic(image_score, (height, width))
        masks = (
            instances.pred_masks[keep.tolist()]
            if hasattr(instances.pred_masks, "detach")
            else instances.pred_masks[keep]
        )
        return self.apply(
            scores[keep], to_numpy(masks), image_score, gate_checked=True, indices=keep
        )

    def _authentic(self, image_score, hw):
        return Decision(np.zeros((0, *hw), dtype=bool), np.zeros(0), float(image_score), [], [])

    def binarize(self, masks: np.ndarray) -> np.ndarray:
        """Step 3: bool, uint8 (x255) or float probability masks -> bool masks."""
        return binarize_masks(np.asarray(masks), self.mask_thresh)

    def apply(self, scores, masks, image_score=None, gate_checked=False, indices=None) -> Decision:
        """Apply the rule to arrays: ``scores (N,)``, ``masks (N, H, W)``; ``image_score`` defaults
        to the top score; ``indices`` (N,) are the rows' indices in the model output, reported in
        :attr:`Decision.members` (default: 0..N-1)."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        masks = np.asarray(masks)
        if masks.ndim != 3 or len(masks) != len(scores):
            raise ValueError(
                f"expected masks (N, H, W) for {len(scores)} scores, got {masks.shape}"
            )
        hw = masks.shape[1:]
        if image_score is None:
            image_score = float(scores.max()) if len(scores) else 0.0
        if not gate_checked and image_score < self.image_thresh:
            return self._authentic(image_score, hw)
        indices = np.arange(len(scores)) if indices is None else np.asarray(indices).reshape(-1)
        order = [
            int(k) for k in np.argsort(-scores, kind="stable") if scores[k] >= self.score_thresh
        ]
        min_area = max(int(self.min_area), int(np.ceil(self.min_area_fraction * hw[0] * hw[1])), 1)
        kept_masks, kept_scores, kept_runs, kept_index = [], [], [], []
        for k in order:
            mask = self.binarize(masks[k])
            runs = mask_to_runs(mask)
            if int(runs[:, 1].sum()) >= min_area:
                kept_masks.append(mask)
                kept_scores.append(scores[k])
                kept_runs.append(runs)
                kept_index.append(int(indices[k]))
        if not kept_masks:
            return self._authentic(image_score, hw)
        final_masks, final_scores, groups = self._merge(kept_masks, kept_scores, kept_runs)
        if self.max_instances > 0:
            final_masks, final_scores = (
                final_masks[: self.max_instances],
                final_scores[: self.max_instances],
            )
            groups = groups[: self.max_instances]
        runs = [mask_to_runs(m) for m in final_masks]
        members = [[kept_index[i] for i in group] for group in groups]
        return Decision(
            np.stack(final_masks), np.asarray(final_scores), float(image_score), runs, members
        )

    def _merge(self, masks, scores, runs):
        """Step 5: union the connected components of the overlap graph (score order kept).
        Returns the masks, scores and member lists (positions in the inputs) of the groups."""
        n = len(masks)
        parent = list(range(n))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        if self.merge_iou > 0 or self.merge_containment > 0:
            areas = [int(r[:, 1].sum()) for r in runs]
            for i in range(n):
                for j in range(i + 1, n):
                    inter = runs_intersection(runs[i], runs[j])
                    if inter == 0:
                        continue
                    iou = inter / (areas[i] + areas[j] - inter)
                    containment = inter / min(areas[i], areas[j])
                    if (self.merge_iou > 0 and iou >= self.merge_iou) or (
                        self.merge_containment > 0 and containment >= self.merge_containment
                    ):
                        parent[find(j)] = find(i)
        groups = {}
        for i in range(n):  # i in descending score order: each group is led by its best member
            groups.setdefault(find(i), []).append(i)
        out_masks, out_scores, out_members = [], [], []
        for members in sorted(groups.values(), key=lambda m: m[0]):
            out_masks.append(
                np.logical_or.reduce([masks[i] for i in members])
                if len(members) > 1
                else masks[members[0]]
            )
            out_scores.append(scores[members[0]])
            out_members.append(members)
        return out_masks, out_scores, out_members
