"""Tune the decision rule (``FORGERY.DECISION``) on a validation set to maximize oF1.

The model runs once: :class:`RawOutputCollector` (a DatasetEvaluator, run beside the
ForgeryEvaluator) caches every image's raw output compactly - instance scores, each mask cropped to
its nonzero box (uint8 soft or bool), the model's ``image_score`` / top score - with the ground
truth as competition runs. :func:`sweep` then replays the decision rule on the cache.

Search: coordinate ascent over the instance keys (``SCORE_THRESH``, ``MASK_THRESH``, ``MIN_AREA``,
``MERGE_IOU``, ``MERGE_CONTAINMENT``, ``MAX_INSTANCES``), one key at a time over its grid, for a few
rounds until nothing improves. ``IMAGE_THRESH`` is solved exactly for every candidate: the gate only
chooses, per image, between the instance rule's oF1 and the ``authentic`` score, so the best
threshold is found by one sort over image scores (the midpoint of the optimal gap, for robustness).

:func:`write_decision_yaml` writes the winner as a config fragment (``FORGERY: DECISION: ...``) to
merge after the model's config (``tools/eval_oF1.py`` / ``tools/predict.py --decision FILE``).

Cache files (:func:`save_cache` / :func:`load_cache`) carry a fingerprint of what produced them
(:func:`cache_fingerprint`: dataset name and images, ``MODEL.WEIGHTS`` file, model and input
config): a cache written for another dataset or other weights is refused with the differences
named, never silently reused. They are pickles: load only caches you wrote.
"""

import hashlib
import logging
import os
import pickle
import tempfile
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import yaml
from detectron2.data import DatasetCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from forgery_d2.competition.rle import mask_to_runs, runs_to_mask
from forgery_d2.structures.masks import to_numpy

from .decision import DecisionRule, image_score_of
from .evaluator import ForgeryEvaluator
from .ground_truth import GroundTruthLoader
from .metric import image_of1, mean_score

__all__ = [
    "CompactOutput",
    "CachedImage",
    "RawOutputCollector",
    "DEFAULT_GRID",
    "SweepResult",
    "best_image_thresh",
    "evaluate_rule",
    "evaluate_cache",
    "sweep",
    "write_decision_yaml",
    "save_cache",
    "load_cache",
    "cache_fingerprint",
    "SweepCacheError",
]

logger = logging.getLogger(__name__)

# Candidate values per DecisionRule field (the base rule's current value is always tried too).
DEFAULT_GRID = {
    "score_thresh": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "mask_thresh": [0.3, 0.4, 0.5, 0.6, 0.7],
    "min_area": [0, 16, 64, 256, 1024],
    "merge_iou": [0.0, 0.05, 0.1, 0.3, 0.5],
    "merge_containment": [0.0, 0.3, 0.5, 0.8],
    "max_instances": [0, 1, 2, 3, 5],
}


@dataclass
class CompactOutput:
    """One model output, compact: masks cropped to their nonzero boxes."""

    hw: tuple
    scores: np.ndarray  # (N,) instances with score >= the collector's floor
    crops: list  # per instance: (y0, x0, array) with the mask's dtype (uint8 / bool / float16)
    image_score: float  # what the gate compares: the model's image_score, else the top score

    @classmethod
    def from_output(cls, output, score_floor=0.0) -> "CompactOutput":
        instances = output["instances"]
        scores = to_numpy(instances.scores).astype(np.float64) if len(instances) else np.zeros(0)
        keep = np.flatnonzero(scores >= score_floor)
        crops = []
        if len(keep):
            masks = to_numpy(
                instances.pred_masks[keep.tolist()]
                if hasattr(instances.pred_masks, "detach")
                else instances.pred_masks[keep]
            )
            if np.issubdtype(masks.dtype, np.floating):
                masks = masks.astype(np.float16)
            for m in masks:
                rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
                if len(rows) == 0:
                    crops.append((0, 0, m[:0, :0].copy()))
                else:
                    crops.append(
                        (
                            int(rows[0]),
                            int(cols[0]),
                            m[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].copy(),
                        )
                    )
        return cls(
            tuple(int(v) for v in instances.image_size), scores[keep], crops, image_score_of(output)
        )

    def dense_masks(self) -> np.ndarray:
        dtype = self.crops[0][2].dtype if self.crops else np.bool_
        out = np.zeros((len(self.crops), *self.hw), dtype=dtype)
        for k, (y0, x0, crop) in enumerate(self.crops):
            out[k, y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
        return out


@dataclass
class CachedImage:
    """A validation image in the sweep cache."""

    image_id: str
    case_id: str
    output: CompactOutput
    gt_runs: Optional[list]  # None = authentic


class RawOutputCollector(DatasetEvaluator):
    """Caches compact raw outputs and ground truth (run it beside ForgeryEvaluator so the model runs
    once). ``evaluate()`` gathers across processes and returns ``{}``; read ``.cache``."""

    def __init__(self, dataset_name, score_floor=0.05, distributed=True):
        """``score_floor``: instances below it are not cached (the sweep cannot pick a lower
        SCORE_THRESH)."""
        self._ground_truth = GroundTruthLoader(dataset_name)
        self._score_floor = score_floor
        self._distributed = distributed
        self._images: List[CachedImage] = []
        self.cache: List[CachedImage] = []

    def reset(self):
        self._images = []

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            record, gt = self._ground_truth(inp)
            gt_runs = None if gt is None else [mask_to_runs(m) for m in gt]
            self._images.append(
                CachedImage(
                    str(record["image_id"]),
                    str(record.get("case_id", record["image_id"])),
                    CompactOutput.from_output(out, self._score_floor),
                    gt_runs,
                )
            )

    def evaluate(self):
        images = self._images
        if self._distributed:
            comm.synchronize()
            images = [im for part in comm.gather(images, dst=0) for im in part]
        self.cache = sorted(images, key=lambda im: im.image_id)
        return {}


class SweepCacheError(ValueError):
    """A sweep cache file that cannot be used for this run (unreadable, or written for another
    dataset, other weights or another model config): the message names the file and the
    differences."""


_CACHE_FORMAT = 1


def cache_fingerprint(cfg, dataset_name: str, score_floor: float = 0.05) -> dict:
    """What a cache of raw outputs depends on: the dataset (name, image count, a digest of its
    image ids and files), the ``MODEL.WEIGHTS`` file (path, size, mtime), a digest of the model
    and input config (``MODEL.*``, ``INPUT.*``) and the collector's score floor."""
    dicts = DatasetCatalog.get(dataset_name)
    listing = "\n".join(f"{d.get('image_id')}\t{d.get('file_name')}" for d in dicts)
    images = hashlib.sha1(listing.encode()).hexdigest()
    weights = cfg.MODEL.WEIGHTS
    weights_file = None
    if weights and os.path.isfile(weights):
        stat = os.stat(weights)
        weights_file = [os.path.abspath(weights), stat.st_size, stat.st_mtime_ns]
    model = hashlib.sha1((cfg.MODEL.dump() + cfg.INPUT.dump()).encode()).hexdigest()
    return {
        "dataset": dataset_name,
        "images": [len(dicts), images[:16]],
        "weights": weights,
        "weights_file": weights_file,
        "model_config": model[:16],
        "score_floor": float(score_floor),
    }


def save_cache(cache, path, fingerprint: Optional[dict] = None):
    """Pickle a sweep cache (list of CachedImage) with its fingerprint; written atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        pickle.dump(
            {"format": _CACHE_FORMAT, "fingerprint": fingerprint, "images": cache},
            f,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    os.replace(tmp, path)


def load_cache(path, expected: Optional[dict] = None):
    """The cached images of a file written by :func:`save_cache`. With ``expected`` (a
    :func:`cache_fingerprint`), raises SweepCacheError naming every difference when the cache was
    written for another dataset, other weights or another model config."""
    try:
        with open(path, "rb") as f:
            stored = pickle.load(f)
    except (
        OSError,
        EOFError,
        pickle.UnpicklingError,
        AttributeError,
        ImportError,
        IndexError,
        ValueError,
    ) as e:
        raise SweepCacheError(
            f"sweep cache {path} is not readable ({type(e).__name__}: {e}); "
            "delete it to recompute it"
        ) from None
    if not (
        isinstance(stored, dict) and stored.get("format") == _CACHE_FORMAT and "images" in stored
    ):
        raise SweepCacheError(
            f"sweep cache {path} was not written by this version of forgery_d2 "
            "(no fingerprint); delete it to recompute it"
        )
    if expected is not None:
        found = stored.get("fingerprint") or {}
        differences = [
            f"{key} {found.get(key)!r} (this run: {value!r})"
            for key, value in expected.items()
            if found.get(key) != value
        ]
        if differences:
            raise SweepCacheError(
                f"sweep cache {path} was written for another run: "
                + "; ".join(differences)
                + ". Delete it or pass another --sweep-cache"
            )
    return stored["images"]


def evaluate_rule(cache, rule: DecisionRule):
    """Per image: ``(forged_scores, authentic_scores, image_scores)`` - the oF1 of calling the image
    with ``rule``'s instance steps (gate passed), of calling it authentic, and its gate score."""
    ungated = rule.replace(image_thresh=0.0)
    forged_scores, authentic_scores, image_scores = [], [], []
    for im in cache:
        out = im.output
        decision = ungated.apply(
            out.scores, out.dense_masks(), image_score=out.image_score, gate_checked=True
        )
        forged_scores.append(image_of1(im.gt_runs, decision.runs if decision.forged else None))
        authentic_scores.append(float(im.gt_runs is None))
        image_scores.append(out.image_score)
    return np.array(forged_scores), np.array(authentic_scores), np.array(image_scores)


def best_image_thresh(image_scores, forged_scores, authentic_scores):
    """The IMAGE_THRESH maximizing the mean of ``forged if score >= t else authentic``.

    Returns ``(threshold, mean oF1)``; the threshold is the midpoint of the optimal gap between
    sorted image scores (any value in it scores the same), at least 0. When calling every image
    authentic is best, it lies above the top score: midway to 1, or top + 0.5 when the top score is
    already >= 1 (a threshold of 1 would still flag an image scored 1.0).
    """
    q = np.asarray(image_scores, dtype=np.float64)
    order = np.argsort(q, kind="stable")
    q, gain = q[order], (np.asarray(forged_scores) - np.asarray(authentic_scores))[order]
    # Threshold just above q[k-1] and at q[k]: images k.. are forged. Cumulative gain of the suffix.
    suffix = np.concatenate((np.cumsum(gain[::-1])[::-1], [0.0]))
    candidates = [k for k in range(len(q) + 1) if k == 0 or k == len(q) or q[k] > q[k - 1]]
    best = max(candidates, key=lambda k: (suffix[k], -k))  # ties: the lowest threshold
    if len(q) == 0:
        thresh = 0.5
    elif best == 0:  # every image forged: any t <= q[0]
        thresh = max(float(q[0]), 0.0) / 2
    elif best == len(q):  # every image authentic: any t > q[-1]
        top = float(q[-1])
        thresh = (top + 1.0) / 2 if top < 1.0 else top + 0.5
    else:
        thresh = (float(q[best - 1]) + float(q[best])) / 2
    thresh = max(float(thresh), 0.0)
    forged = np.asarray(image_scores) >= thresh
    total = np.where(forged, forged_scores, authentic_scores)
    return thresh, mean_score(total)


def evaluate_cache(cache, rule: DecisionRule, dataset_name=None, output_dir=None):
    """The ForgeryEvaluator's metrics (and files, with ``output_dir``) of ``rule`` on cached outputs."""
    evaluator = ForgeryEvaluator(
        dataset_name, decision=rule, output_dir=output_dir, distributed=False
    )
    ungated = rule.replace(image_thresh=0.0)
    candidates = ungated.replace(score_thresh=0.0, max_instances=0)
    for im in cache:
        out = im.output
        masks = out.dense_masks()
        decision = rule.apply(out.scores, masks, image_score=out.image_score)
        gt, oracles = None, None
        if im.gt_runs is not None:
            gt = np.stack([runs_to_mask(r, out.hw) for r in im.gt_runs])
            oracles = [
                r.apply(out.scores, masks, image_score=out.image_score, gate_checked=True)
                for r in (ungated, candidates)
            ]
        evaluator.process_decision(
            {"case_id": im.case_id, "image_id": im.image_id}, gt, decision, oracles
        )
    return evaluator.evaluate()["forgery"]


@dataclass
class SweepResult:
    rule: DecisionRule
    oF1: float
    history: list  # rows: {key (a DecisionRule field), value, image_thresh, oF1}


def sweep(cache, base_rule: DecisionRule = None, grid=None, rounds=3, log=True) -> SweepResult:
    """Coordinate ascent over ``grid`` (see the module docstring); returns the best rule found."""
    if not cache:
        raise ValueError("sweep: the cache is empty (no validation image)")
    grid = dict(DEFAULT_GRID if grid is None else grid)
    if all(
        out.crops == [] or out.crops[0][2].dtype == np.bool_ for out in (im.output for im in cache)
    ):
        grid.pop("mask_thresh", None)  # hard masks: the mask threshold changes nothing
    best_rule = base_rule or DecisionRule.default()
    history = []

    def run(rule, key, value):
        thresh, value_of1 = best_image_thresh(*_reorder(evaluate_rule(cache, rule)))
        history.append({"key": key, "value": value, "image_thresh": thresh, "oF1": value_of1})
        return rule.replace(image_thresh=thresh), value_of1

    best_rule, best = run(best_rule, "start", None)
    for round_idx in range(rounds):
        improved = False
        for key, values in grid.items():
            current = getattr(best_rule, key)
            for value in values:
                if value == current:
                    continue
                rule, value_of1 = run(best_rule.replace(**{key: type(current)(value)}), key, value)
                if value_of1 > best:
                    best_rule, best, improved = rule, value_of1, True
            if log:
                logger.info(
                    f"[sweep] round {round_idx}: {key} = {getattr(best_rule, key)} -> oF1 {best:.4f}"
                )
        if not improved:
            break
    return SweepResult(best_rule, best, history)


def _reorder(triple):
    forged, authentic, image = triple
    return image, forged, authentic


def write_decision_yaml(rule: DecisionRule, path, comment: str = "") -> str:
    """Write ``rule`` as a config fragment ``FORGERY: DECISION: {...}`` to merge after a config."""
    decision = {
        k: (float(v) if isinstance(v, float) else int(v)) for k, v in rule.to_config_dict().items()
    }
    # VERSION: detectron2's config version, so merging the fragment logs no compatibility warning.
    body = yaml.safe_dump({"FORGERY": {"DECISION": decision}, "VERSION": 2}, sort_keys=False)
    with open(path, "w") as f:
        if comment:
            f.write("".join(f"# {line}\n" for line in comment.splitlines()))
        f.write(body)
    return path
