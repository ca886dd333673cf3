"""The decision rule: model outputs -> the final instance masks of one image (none = ``authentic``).

The evaluator, ``tools/predict.py`` and the sweep all call :class:`DecisionRule`, so validation
scores are exactly what a submission would score. Steps, in order:

1. **Image gate.** The image score is the model's ``image_score`` when it gives one, else its top
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

Why these defaults (from the metric, not from data; :mod:`forgery_d2.evaluation.sweep` tunes them
on a validation set):

- ``IMAGE_THRESH = 0.5``. With a calibrated probability ``q`` that the image is forged and an
  expected oF1 ``s`` of our masks on a forged image, calling it forged is worth ``q * s`` and calling
  it authentic ``1 - q``: forged wins when ``q > 1 / (1 + s)``. That is 0.5 for perfect masks and
  higher for worse ones, so 0.5 is the lowest sensible value; raise it as mask quality drops.
- ``SCORE_THRESH = 0.5``: the same break-even for one more instance: an extra instance costs a factor
  ``n_gt / n_pred`` on the whole image, so keep it only when it is more likely real than not.
- ``MASK_THRESH = 0.5``: pixel F1 is maximized by thresholding calibrated probabilities near 0.5
  (detectron2's own paste threshold).
- ``MIN_AREA = 16``: one 4x4 cell of the finest feature map (stride 4) - smaller instances are below
  what a segmentation head resolves, can only add a tiny F1, and still count as a prediction.
- ``MERGE_IOU = 0.1``, ``MERGE_CONTAINMENT = 0.5``: ground-truth instances are disjoint, so two
  overlapping predictions are almost surely the same instance. Keeping both halves the image's
  score; their union scores ``2(1+u)/(3+u) >= 0.67`` (two equal-size copies of one GT region at
  IoU u). Any clear overlap should merge; 0.1 ignores masks that only touch at a border.
- ``MAX_INSTANCES = 0`` (no cap): the metric names no count; the score threshold controls it.
"""
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .metric import runs_intersection
from forgery_d2.competition.rle import encode_annotation, mask_to_runs

__all__ = ["DecisionRule", "Decision", "image_score_of"]


@dataclass
class Decision:
    """The decision on one image: the final instances (``masks`` empty = authentic)."""

    masks: np.ndarray  # bool (K, H, W), K = 0 for authentic
    scores: np.ndarray  # float (K,), best member score of each (merged) instance
    image_score: float  # the score the image gate compared with IMAGE_THRESH
    runs: list = field(default_factory=list, repr=False)  # competition runs of each mask

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


def _to_numpy(x):
    """A torch tensor (any device) or array-like -> numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def image_score_of(output: dict) -> float:
    """The image-level score of one model output: ``image_score`` if given, else the top instance
    score, else 0."""
    if output.get("image_score") is not None:
        return float(_to_numpy(output["image_score"]).reshape(-1)[0])
    instances = output.get("instances")
    if instances is None or len(instances) == 0:
        return 0.0
    return float(_to_numpy(instances.scores).max())


@dataclass
class DecisionRule:
    """Turns one model output into the final instances of an image; see the module docstring."""

    IMAGE_THRESH: float = 0.5
    SCORE_THRESH: float = 0.5
    MASK_THRESH: float = 0.5
    MIN_AREA: int = 16
    MIN_AREA_FRACTION: float = 0.0
    MERGE_IOU: float = 0.1
    MERGE_CONTAINMENT: float = 0.5
    MAX_INSTANCES: int = 0

    def __post_init__(self):
        for name in ("IMAGE_THRESH", "SCORE_THRESH", "MASK_THRESH", "MIN_AREA_FRACTION", "MERGE_IOU", "MERGE_CONTAINMENT"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"FORGERY.DECISION.{name} must be in [0, 1], got {value}")
        for name in ("MIN_AREA", "MAX_INSTANCES"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"FORGERY.DECISION.{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def from_config(cls, cfg) -> "DecisionRule":
        """The rule configured by ``cfg.FORGERY.DECISION``."""
        node = cfg.FORGERY.DECISION
        return cls(**{f.name: f.type(node[f.name]) for f in fields(cls)})

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> "DecisionRule":
        return DecisionRule(**{**asdict(self), **changes})

    def __call__(self, output: dict) -> Decision:
        """Apply the rule to one model output ``{"instances": Instances, ["image_score"]}``."""
        instances = output["instances"]
        image_score = image_score_of(output)
        height, width = instances.image_size
        if image_score < self.IMAGE_THRESH or len(instances) == 0:
            return self._authentic(image_score, (height, width))
        scores = _to_numpy(instances.scores).astype(np.float64)
        keep = np.flatnonzero(scores >= self.SCORE_THRESH)
        if len(keep) == 0:
            return self._authentic(image_score, (height, width))
        masks = instances.pred_masks[keep.tolist()] if hasattr(instances.pred_masks, "detach") else instances.pred_masks[keep]
        return self.apply(scores[keep], _to_numpy(masks), image_score, gate_checked=True)

    def _authentic(self, image_score, hw):
        return Decision(np.zeros((0, *hw), dtype=bool), np.zeros(0), float(image_score), [])

    def binarize(self, masks: np.ndarray) -> np.ndarray:
        """Step 3: bool, uint8 (x255) or float probability masks -> bool masks."""
        masks = np.asarray(masks)
        if masks.dtype == np.bool_:
            return masks
        if masks.dtype == np.uint8:
            return masks >= self.MASK_THRESH * 255.0
        if np.issubdtype(masks.dtype, np.floating):
            return masks >= self.MASK_THRESH
        raise TypeError(f"pred_masks must be bool, uint8 (probability x 255) or float, got {masks.dtype}")

    def apply(self, scores, masks, image_score=None, gate_checked=False) -> Decision:
        """Apply the rule to arrays: ``scores (N,)``, ``masks (N, H, W)``; ``image_score`` defaults
        to the top score."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        masks = np.asarray(masks)
        if masks.ndim != 3 or len(masks) != len(scores):
            raise ValueError(f"expected masks (N, H, W) for {len(scores)} scores, got {masks.shape}")
        hw = masks.shape[1:]
        if image_score is None:
            image_score = float(scores.max()) if len(scores) else 0.0
        if not gate_checked and image_score < self.IMAGE_THRESH:
            return self._authentic(image_score, hw)
        order = [int(k) for k in np.argsort(-scores, kind="stable") if scores[k] >= self.SCORE_THRESH]
        min_area = max(int(self.MIN_AREA), int(np.ceil(self.MIN_AREA_FRACTION * hw[0] * hw[1])), 1)
        kept_masks, kept_scores, kept_runs = [], [], []
        for k in order:
            mask = self.binarize(masks[k])
            runs = mask_to_runs(mask)
            if int(runs[:, 1].sum()) >= min_area:
                kept_masks.append(mask)
                kept_scores.append(scores[k])
                kept_runs.append(runs)
        if not kept_masks:
            return self._authentic(image_score, hw)
        final_masks, final_scores = self._merge(kept_masks, kept_scores, kept_runs)
        if self.MAX_INSTANCES > 0:
            final_masks, final_scores = final_masks[: self.MAX_INSTANCES], final_scores[: self.MAX_INSTANCES]
        runs = [mask_to_runs(m) for m in final_masks]
        return Decision(np.stack(final_masks), np.asarray(final_scores), float(image_score), runs)

    def _merge(self, masks, scores, runs):
        """Step 5: union the connected components of the overlap graph (score order kept)."""
        n = len(masks)
        parent = list(range(n))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        if self.MERGE_IOU > 0 or self.MERGE_CONTAINMENT > 0:
            areas = [int(r[:, 1].sum()) for r in runs]
            for i in range(n):
                for j in range(i + 1, n):
                    inter = runs_intersection(runs[i], runs[j])
                    if inter == 0:
                        continue
                    iou = inter / (areas[i] + areas[j] - inter)
                    containment = inter / min(areas[i], areas[j])
                    if (self.MERGE_IOU > 0 and iou >= self.MERGE_IOU) or (
                        self.MERGE_CONTAINMENT > 0 and containment >= self.MERGE_CONTAINMENT
                    ):
                        parent[find(j)] = find(i)
        groups = {}
        for i in range(n):  # i in descending score order: each group is led by its best member
            groups.setdefault(find(i), []).append(i)
        out_masks, out_scores = [], []
        for members in sorted(groups.values(), key=lambda m: m[0]):
            out_masks.append(np.logical_or.reduce([masks[i] for i in members]) if len(members) > 1 else masks[members[0]])
            out_scores.append(scores[members[0]])
        return out_masks, out_scores
