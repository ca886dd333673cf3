"""Staged freezing: which named parts of a model train, from which iteration on.

A *part* is a name ("res5", "classifier", "mask_head", ...) mapped to glob patterns over parameter
names (``fnmatch``; a pattern also matches everything below it, so ``"roi_heads.mask_head"`` covers
``"roi_heads.mask_head.mask_fcn1.weight"``). A *group* names several parts ("backbone", "heads").
A *schedule* is a list of stages ``[start_iter, "part,part,..."]``: from ``start_iter`` on, exactly
the named parts train and everything else is frozen.

Parameters the model froze itself when it was built (``MODEL.BACKBONE.FREEZE_AT``,
``MODEL.MOBILENET.FREEZE_AT``) stay frozen in every stage, ``all`` included: under
DistributedDataParallel they are not in the reducer (DDP registers only parameters that require
grad when it wraps the model), so a stage that re-enabled them would get a local, unsynchronised
gradient on every rank: wasted work and a wrong trainable fraction with detectron2's default
optimizer (built without them), replicas drifting apart with an optimizer over all parameters.
:func:`frozen_parameter_names` lists them on the freshly built model (tests/test_distributed.py).

Freezing never rebuilds anything: the optimizer is built once over all parameters, and a frozen
parameter has ``requires_grad=False`` and ``grad=None``. ``torch.optim.SGD`` skips parameters whose
``grad`` is None, so neither momentum nor weight decay moves them. BatchNorm layers whose parameters
are all frozen are kept in eval mode (their running statistics stay fixed too).

Where parts come from: the table below names every part of detectron2's GeneralizedRCNN and of
forgery_d2's models built on it (forensic streams, self-correlation, image gate); a user's own
modules are added with ``cfg.FORGERY.FREEZE.EXTRA_PARTS``.
"""

import fnmatch
import logging
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from torch import nn

__all__ = [
    "FreezeConfigError",
    "FreezeStage",
    "unwrap_ddp",
    "part_patterns",
    "parse_schedule",
    "stage_at",
    "trainable_parameter_names",
    "frozen_parameter_names",
    "uncovered_parameter_names",
    "present_parts",
    "apply_stage",
    "sync_frozen_norm_modes",
]

logger = logging.getLogger(__name__)

# Parts of detectron2's GeneralizedRCNN with a ResNet/MobileNet-FPN backbone, and of forgery_d2's
# ForgeryFPN / ForgeryRCNN built on them.
_PARTS: Dict[str, Tuple[str, ...]] = {
    "stem": ("backbone.bottom_up.stem",),
    "res2": ("backbone.bottom_up.res2",),
    "res3": ("backbone.bottom_up.res3",),
    "res4": ("backbone.bottom_up.res4",),
    "res5": ("backbone.bottom_up.res5",),
    "fpn": ("backbone.fpn_*", "backbone.top_block"),
    "rpn": ("proposal_generator",),
    "box_head": ("roi_heads.box_head",),
    "classifier": ("roi_heads.box_predictor.cls_score",),
    "box_regressor": ("roi_heads.box_predictor.bbox_pred",),
    "mask_head": ("roi_heads.mask_head",),
    # forgery_d2.modeling (ForgeryFPN, ForgeryRCNN)
    "forensic": ("backbone.forensic", "backbone.forensic_bottom_up", "backbone.forensic_merge"),
    "self_correlation": ("backbone.self_correlation",),
    "image_gate": ("image_gate",),
}
# Groups: members absent from a model are skipped (a part named on its own must exist).
_GROUPS: Dict[str, Tuple[str, ...]] = {
    "bottom_up": ("stem", "res2", "res3", "res4", "res5"),
    "backbone": ("stem", "res2", "res3", "res4", "res5", "fpn", "forensic", "self_correlation"),
    "box_predictor": ("classifier", "box_regressor"),
    "heads": ("rpn", "box_head", "classifier", "box_regressor", "mask_head", "image_gate"),
}
ALL = "all"


class FreezeConfigError(ValueError):
    """A freeze schedule that cannot be applied (the message says what is wrong)."""


@dataclass(frozen=True)
class FreezeStage:
    """From ``start_iter`` on, exactly ``parts`` train (every parameter when ``parts`` has "all").
    ``optional`` parts came from a group and may be absent from the model."""

    start_iter: int
    parts: Tuple[str, ...]
    optional: Tuple[str, ...] = ()


def part_patterns(model: nn.Module = None, extra_parts=()) -> Dict[str, Tuple[str, ...]]:
    """All known parts -> patterns: the table of this module and ``extra_parts``
    (``[[name, "glob,glob"], ...]`` as in ``cfg.FORGERY.FREEZE.EXTRA_PARTS``). ``model`` is
    accepted for call sites that have one; the parts do not depend on it."""
    parts = dict(_PARTS)
    for entry in extra_parts:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)):
            raise FreezeConfigError(
                f"FORGERY.FREEZE.EXTRA_PARTS entries are [name, 'glob,glob'], got {entry!r}"
            )
        parts[entry[0]] = tuple(p.strip() for p in str(entry[1]).split(",") if p.strip())
    return parts


def _valid_names(parts) -> List[str]:
    return sorted(parts) + sorted(_GROUPS) + [ALL]


def _expand(names: Sequence[str], parts):
    """Names -> (parts, optional parts): groups expand to their members, which are optional."""
    expanded, optional = [], []
    for name in names:
        if name == ALL:
            expanded.append(ALL)
        elif name in _GROUPS:
            members = [m for m in _GROUPS[name] if m in parts]
            expanded.extend(members)
            optional.extend(members)
        elif name in parts:
            expanded.append(name)
        else:
            raise FreezeConfigError(
                f"unknown part {name!r} in FORGERY.FREEZE.STAGES; valid names: "
                + ", ".join(_valid_names(parts))
            )
    expanded = tuple(dict.fromkeys(expanded))
    required = {n for n in names if n in parts}
    return expanded, tuple(p for p in dict.fromkeys(optional) if p not in required)


def parse_schedule(stages, parts=None) -> List[FreezeStage]:
    """Validate ``cfg.FORGERY.FREEZE.STAGES`` (``[[start_iter, "a,b"], ...]``) into stages.

    Raises FreezeConfigError naming the bad entry: malformed pairs, a first start other than 0,
    starts not strictly increasing, unknown part names (the message lists the valid ones).
    """
    parts = parts if parts is not None else dict(_PARTS)
    schedule = []
    for index, entry in enumerate(stages):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            raise FreezeConfigError(
                f"FORGERY.FREEZE.STAGES[{index}] must be [start_iter, 'part,part'], got {entry!r}"
            )
        start, names = entry
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise FreezeConfigError(
                f"FORGERY.FREEZE.STAGES[{index}]: start_iter must be an int >= 0, got {start!r}"
            )
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        if not names:
            raise FreezeConfigError(f"FORGERY.FREEZE.STAGES[{index}] names no part to train")
        schedule.append(FreezeStage(start, *_expand(names, parts)))
    if schedule and schedule[0].start_iter != 0:
        raise FreezeConfigError(
            f"FORGERY.FREEZE.STAGES must start at iteration 0, first stage starts at "
            f"{schedule[0].start_iter}"
        )
    for previous, stage in zip(schedule, schedule[1:]):
        if stage.start_iter <= previous.start_iter:
            raise FreezeConfigError(
                f"FORGERY.FREEZE.STAGES start iterations must increase: {previous.start_iter} "
                f"then {stage.start_iter}"
            )
    return schedule


def stage_at(schedule: Sequence[FreezeStage], iteration: int) -> int:
    """Index of the stage in force at ``iteration`` (the last one that started)."""
    index = 0
    for i, stage in enumerate(schedule):
        if stage.start_iter <= iteration:
            index = i
    return index


def unwrap_ddp(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or name.startswith(pattern + ".") or fnmatch.fnmatchcase(name, pattern)


def trainable_parameter_names(model: nn.Module, stage: FreezeStage, parts) -> List[str]:
    """Names of the parameters the stage trains. Raises if a part named on its own (not through a
    group) matches no parameter of the model."""
    names = [n for n, _ in unwrap_ddp(model).named_parameters()]
    if ALL in stage.parts:
        return names
    selected = set()
    for part in stage.parts:
        hits = {n for n in names if any(_matches(n, p) for p in parts[part])}
        if not hits and part not in stage.optional:
            raise FreezeConfigError(
                f"part {part!r} (patterns {list(parts[part])}) matches no parameter of "
                f"{type(unwrap_ddp(model)).__name__}; is it in this model?"
            )
        selected |= hits
    return [n for n in names if n in selected]


def frozen_parameter_names(model: nn.Module) -> frozenset:
    """Names of the parameters that do not require grad: call it on the freshly built model (before
    any stage), where these are the ones the model froze itself (``FREEZE_AT``)."""
    return frozenset(n for n, p in unwrap_ddp(model).named_parameters() if not p.requires_grad)


def present_parts(model: nn.Module, stage: FreezeStage, parts) -> List[str]:
    """The stage's parts that have parameters in this model (for logging)."""
    if ALL in stage.parts:
        return [ALL]
    names = [n for n, _ in unwrap_ddp(model).named_parameters()]
    return [part for part in stage.parts if any(_matches(n, p) for n in names for p in parts[part])]


def uncovered_parameter_names(model: nn.Module, parts) -> List[str]:
    """Parameters that belong to no known part: they train only in an ``all`` stage."""
    return [
        n
        for n, _ in unwrap_ddp(model).named_parameters()
        if not any(_matches(n, p) for patterns in parts.values() for p in patterns)
    ]


def _is_batchnorm(module):
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


def sync_frozen_norm_modes(model: nn.Module) -> None:
    """Put BatchNorm layers whose parameters are all frozen in eval mode (the others follow the
    model's mode). Call after anything that resets modes, e.g. ``model.train()`` after evaluation."""
    model = unwrap_ddp(model)
    for module in model.modules():
        if _is_batchnorm(module):
            params = list(module.parameters(recurse=False))
            frozen = bool(params) and not any(p.requires_grad for p in params)
            module.train(model.training and not frozen)


def apply_stage(model: nn.Module, stage: FreezeStage, parts, never_train=()) -> Tuple[int, int]:
    """Train exactly the stage's parts, except ``never_train`` (the parameters frozen when the
    model was built, :func:`frozen_parameter_names`): set ``requires_grad``, drop grads of frozen
    parameters, fix frozen BatchNorm layers. Returns (trainable, total) parameter element counts."""
    model = unwrap_ddp(model)
    trainable = set(trainable_parameter_names(model, stage, parts)) - set(never_train)
    counts = [0, 0]
    for name, param in model.named_parameters():
        param.requires_grad_(name in trainable)
        if name not in trainable:
            param.grad = None
        counts[0] += param.numel() if name in trainable else 0
        counts[1] += param.numel()
    sync_frozen_norm_modes(model)
    return counts[0], counts[1]
