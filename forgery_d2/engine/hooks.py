"""Training hooks of forgery_d2 (each a detectron2 ``HookBase``, configured under ``cfg.FORGERY``).

- :class:`FreezeSchedule`: staged freezing (``FORGERY.FREEZE``), see forgery_d2.engine.freeze.
- :class:`ValidationLoss`: the train-time loss dict on a fixed validation subset (``val_loss``,
  ``val_<loss name>``).
- :class:`FeatureSeparability`: how well ROI box-head features separate forged from authentic
  regions (``sep/*``), see forgery_d2.engine.separability.
- :class:`BestCheckpointer`: ``model_best.pth`` by a validation metric, resumable.
- :class:`TrainingCurves`: ``training_curves.png`` from ``metrics.json`` at the end of training.
"""

import logging
import os
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import hooks as d2_hooks
from detectron2.engine.train_loop import HookBase
from detectron2.structures import Boxes, pairwise_iou
from detectron2.utils import comm
from detectron2.utils.events import EventStorage
from torch import nn

from . import freeze
from .curves import plot_training_curves
from .separability import separability_stats

__all__ = [
    "FreezeSchedule",
    "ValidationLoss",
    "FeatureSeparability",
    "BestCheckpointer",
    "TrainingCurves",
]

logger = logging.getLogger(__name__)


def _periodic(period: int, trainer) -> bool:
    """True after the iterations where ``period`` divides the count of finished iterations, and after
    the last one (like detectron2's EvalHook)."""
    next_iter = trainer.iter + 1
    return period > 0 and (next_iter % period == 0 or next_iter == trainer.max_iter)


class FreezeSchedule(HookBase):
    """Applies the stage of a freeze schedule in force at each iteration.

    The stage is recomputed from the iteration (so ``--resume`` lands in the right stage), applied
    before the first step and at each stage start, and logged (and put to the EventStorage as
    ``freeze/stage`` and ``freeze/trainable_frac``). Frozen BatchNorm layers are put back in eval
    mode before every step, because evaluation hooks call ``model.train()`` afterwards.
    Parameters frozen when the model was built (``never_train``, default: those not requiring grad
    when training starts, see :func:`forgery_d2.engine.freeze.frozen_parameter_names`) stay frozen
    in every stage.
    """

    def __init__(
        self, schedule: Sequence[freeze.FreezeStage], parts: Dict[str, tuple], never_train=None
    ):
        self.schedule = list(schedule)
        self.parts = parts
        self.never_train = None if never_train is None else frozenset(never_train)
        self.current_stage = None
        self._trainable_frac = 1.0

    def _apply(self, index: int, iteration: int):
        stage = self.schedule[index]
        trainable, total = freeze.apply_stage(
            self.trainer.model, stage, self.parts, self.never_train
        )
        self.current_stage = index
        self._trainable_frac = trainable / max(total, 1)
        logger.info(
            f"Freeze stage {index} from iteration {stage.start_iter} (now at {iteration}): training "
            f"{', '.join(freeze.present_parts(self.trainer.model, stage, self.parts))}: "
            f"{trainable}/{total} weights ({100 * self._trainable_frac:.1f}%)"
        )

    def before_train(self):
        model = self.trainer.model
        if self.never_train is None:
            self.never_train = freeze.frozen_parameter_names(model)
        if self.never_train:
            heads = sorted({n.rsplit(".", 2)[0] for n in self.never_train})
            shown = ", ".join(heads[:8]) + (", ..." if len(heads) > 8 else "")
            logger.info(
                f"{len(self.never_train)} parameters were frozen when the model was built "
                f"(FREEZE_AT) and stay frozen in every stage: {shown}"
            )
        uncovered = freeze.uncovered_parameter_names(model, self.parts)
        if uncovered:
            heads = sorted({n.rsplit(".", 2)[0] for n in uncovered})
            logger.warning(
                "Parameters in no freeze part (they train only in 'all' stages): "
                + ", ".join(heads)
            )
        self._apply(freeze.stage_at(self.schedule, self.trainer.iter), self.trainer.iter)

    def before_step(self):
        index = freeze.stage_at(self.schedule, self.trainer.iter)
        if index != self.current_stage:
            self._apply(index, self.trainer.iter)
        else:
            freeze.sync_frozen_norm_modes(self.trainer.model)
        storage = self.trainer.storage
        storage.put_scalar("freeze/stage", float(index), smoothing_hint=False)
        storage.put_scalar("freeze/trainable_frac", self._trainable_frac, smoothing_hint=False)


def _batches(items: List[dict], batch_size: int):
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


class _TrainModeWithFrozenNorm:
    """Context: the model in train mode (losses, ROI sampling) with every BatchNorm in eval mode,
    gradients off, RNG forked and seeded (the same ROI sampling each time, training RNG untouched)
    and a scratch EventStorage (the model's own training logs do not reach the training curves).
    Restores all module modes on exit."""

    def __init__(self, model: nn.Module, seed: int, iteration: int):
        self.model, self.seed, self.iteration = model, seed, iteration

    def __enter__(self):
        self._modes = [(m, m.training) for m in self.model.modules()]
        self.model.train()
        for module in self.model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        self._rng = torch.random.fork_rng(devices=devices)
        self._rng.__enter__()
        torch.manual_seed(self.seed)
        self._no_grad = torch.no_grad()
        self._no_grad.__enter__()
        self._storage = EventStorage(self.iteration)
        self._storage.__enter__()
        return self.model

    def __exit__(self, *exc):
        self._storage.__exit__(*exc)
        self._no_grad.__exit__(*exc)
        self._rng.__exit__(*exc)
        for module, mode in self._modes:
            module.training = mode
        return False


class ValidationLoss(HookBase):
    """Every ``period`` iterations, the mean train-time loss dict over fixed validation inputs.

    ``inputs`` are mapped *with* annotations and without random augmentation (see
    ``ForgeryTrainer.build_hooks``). The model runs in train mode under ``torch.no_grad`` with
    BatchNorm in eval mode (train-mode BN would both update the running statistics and normalize
    with batch statistics; the validation loss should measure the model as it is used). Logged as
    ``val_loss`` (the sum) and ``val_<name>`` for each loss, beside the training ``total_loss``.
    Runs on the main process only.
    """

    def __init__(self, period: int, inputs: List[dict], batch_size: int = 2, seed: int = 0):
        self.period = period
        self.inputs = inputs
        self.batch_size = max(1, batch_size)
        self.seed = seed

    def compute(self) -> Dict[str, float]:
        """The validation loss dict (``val_loss`` and ``val_<name>``) for the current weights."""
        model = freeze.unwrap_ddp(self.trainer.model)
        sums, count = defaultdict(float), 0
        with _TrainModeWithFrozenNorm(model, self.seed, self.trainer.iter):
            for batch in _batches(self.inputs, self.batch_size):
                loss_dict = model(batch)
                for name, value in loss_dict.items():
                    sums[name] += float(value) * len(batch)
                count += len(batch)
        losses = {f"val_{name}": total / count for name, total in sums.items()}
        losses["val_loss"] = sum(losses.values())
        return losses

    def after_step(self):
        if (
            not self.inputs
            or not _periodic(self.period, self.trainer)
            or not comm.is_main_process()
        ):
            return
        losses = self.compute()
        self.trainer.storage.put_scalars(**losses, smoothing_hint=False)
        logger.info(
            f"Validation loss at iteration {self.trainer.iter}: "
            + ", ".join(f"{k}={v:.4f}" for k, v in sorted(losses.items()))
        )


def probe_boxes(inputs: List[dict], neg_per_image: int, seed: int = 0):
    """Fixed probe boxes per mapped input: ``(positive Boxes, negative Boxes)``.

    Positives are the ground-truth forged boxes. Negatives are random boxes on authentic images,
    with sizes drawn from the positives' sizes (so size is no cue); when the probe has no authentic
    image, random boxes on forged images overlapping no forged box (IoU < 0.1).
    """
    rng = np.random.default_rng(seed)
    sizes = (
        np.concatenate([x["instances"].gt_boxes.tensor.numpy().reshape(-1, 4) for x in inputs])
        if inputs
        else np.zeros((0, 4))
    )
    sizes = (
        np.stack([sizes[:, 2] - sizes[:, 0], sizes[:, 3] - sizes[:, 1]], axis=1)
        if len(sizes)
        else sizes
    )
    any_authentic = any(len(x["instances"]) == 0 for x in inputs)
    result = []
    for item in inputs:
        gt = item["instances"].gt_boxes
        height, width = item["image"].shape[-2:]
        negatives = []
        if len(sizes) and (len(gt) == 0 or not any_authentic):
            for _ in range(20 * neg_per_image):
                if len(negatives) == neg_per_image:
                    break
                w, h = sizes[rng.integers(len(sizes))]
                w, h = min(max(w, 4.0), width), min(max(h, 4.0), height)
                x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
                box = torch.tensor([[x0, y0, x0 + w, y0 + h]], dtype=torch.float32)
                if len(gt) and pairwise_iou(Boxes(box), gt).max() >= 0.1:
                    continue
                negatives.append(box)
        negatives = torch.cat(negatives) if negatives else torch.zeros((0, 4))
        result.append((gt.tensor.clone().float(), negatives))
    return result


class FeatureSeparability(HookBase):
    """Every ``period`` iterations, ROI box-head features of forged vs authentic boxes on a fixed
    probe set, with the model in eval mode. Logs ``sep/mean_dist``, ``sep/norm_dist``,
    ``sep/num_separating``, ``sep/frac_separating``, ``sep/probe_acc`` (see
    :func:`~forgery_d2.engine.separability.separability_stats`). Needs a model with ``backbone``,
    ``preprocess_image`` and standard ``roi_heads`` (``box_pooler``, ``box_head``), like
    GeneralizedRCNN / ForgeryRCNN. Runs on the main process only.
    """

    def __init__(
        self,
        period: int,
        inputs: List[dict],
        neg_per_image: int = 8,
        threshold: float = 1.0,
        batch_size: int = 2,
        seed: int = 0,
    ):
        self.period = period
        self.inputs = inputs
        self.threshold = threshold
        self.batch_size = max(1, batch_size)
        self.boxes = probe_boxes(inputs, neg_per_image, seed)

    @torch.no_grad()
    def features(self):
        """``(positive features, negative features)``, each ``(n, D)``, for the current weights."""
        model = freeze.unwrap_ddp(self.trainer.model)
        roi_heads = model.roi_heads
        was_training = model.training
        model.eval()
        positives, negatives = [], []
        try:
            for start in range(0, len(self.inputs), self.batch_size):
                batch = self.inputs[start : start + self.batch_size]
                boxes = self.boxes[start : start + self.batch_size]
                images = model.preprocess_image(batch)
                features = model.backbone(images.tensor)
                in_features = [features[f] for f in roi_heads.box_in_features]
                all_boxes = [Boxes(torch.cat([p, n]).to(model.device)) for p, n in boxes]
                pooled = roi_heads.box_head(roi_heads.box_pooler(in_features, all_boxes)).flatten(1)
                offset = 0
                for pos, neg in boxes:
                    positives.append(pooled[offset : offset + len(pos)])
                    negatives.append(pooled[offset + len(pos) : offset + len(pos) + len(neg)])
                    offset += len(pos) + len(neg)
        finally:
            model.train(was_training)
        return torch.cat(positives).cpu(), torch.cat(negatives).cpu()

    def compute(self) -> Dict[str, float]:
        stats = separability_stats(*self.features(), threshold=self.threshold)
        return {f"sep/{k}": v for k, v in stats.items()}

    def after_step(self):
        if (
            not self.inputs
            or not _periodic(self.period, self.trainer)
            or not comm.is_main_process()
        ):
            return
        stats = self.compute()
        self.trainer.storage.put_scalars(**stats, smoothing_hint=False)
        logger.info(
            f"ROI feature separability at iteration {self.trainer.iter}: "
            + ", ".join(f"{k}={v:.4g}" for k, v in sorted(stats.items()))
        )


class _UntaggedCheckpointer(DetectionCheckpointer):
    """Saves model weights only and leaves ``last_checkpoint`` alone (``--resume`` must continue
    from the latest periodic checkpoint, not from the best one)."""

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        pass


class BestCheckpointer(d2_hooks.BestCheckpointer):
    """detectron2's BestCheckpointer (register it after the EvalHook) that writes ``model_best.pth``
    with the model weights only, keeps ``last_checkpoint`` pointing at the periodic checkpoints,
    and remembers the best value across ``--resume`` (its state is in the trainer checkpoint)."""

    def __init__(
        self,
        eval_period: int,
        model: nn.Module,
        output_dir: str,
        val_metric: str,
        mode: str = "max",
        file_prefix: str = "model_best",
    ):
        super().__init__(
            eval_period, _UntaggedCheckpointer(model, output_dir), val_metric, mode, file_prefix
        )

    def state_dict(self):
        if self.best_metric is None:
            return {}
        return {"best_metric": self.best_metric, "best_iter": self.best_iter}

    def load_state_dict(self, state_dict):
        self.best_metric = state_dict.get("best_metric")
        self.best_iter = state_dict.get("best_iter")


class TrainingCurves(HookBase):
    """At the end of training (register it after detectron2's writers, which flush
    ``metrics.json`` in their ``after_train``), plots ``training_curves.png`` in ``output_dir``."""

    def __init__(self, output_dir: str):
        self.output_dir = output_dir

    def after_train(self):
        if not comm.is_main_process():
            return
        metrics = os.path.join(self.output_dir, "metrics.json")
        if not os.path.exists(metrics):
            logger.warning(f"No {metrics}: no training curves written")
            return
        try:
            path = plot_training_curves(
                metrics, os.path.join(self.output_dir, "training_curves.png")
            )
        except ValueError as e:
            # e.g. training stopped before its first logged iteration. after_train also runs while
            # an exception unwinds the training loop: raising here would hide that exception.
            logger.warning(f"No training curves written: {e}")
            return
        logger.info(f"Training curves written to {path}")
