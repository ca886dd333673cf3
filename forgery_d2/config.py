"""forgery_d2's config keys. Call ``add_forgery_config(cfg)`` on a ``get_cfg()`` before merging a
forgery_d2 YAML, like ``add_pointrend_config`` in detectron2's projects.

Each section below belongs to one part of the plugin; every key has a comment.
"""

import dataclasses
import difflib
import functools
import logging
import os

import torch
import yaml
from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg

__all__ = [
    "ConfigError",
    "add_forgery_config",
    "get_forgery_cfg",
    "load_config",
    "check_weights_file",
    "fall_back_to_cpu",
    "default_value",
    "ConfigParams",
]

logger = logging.getLogger(__name__)


def get_forgery_cfg():
    """A fresh (unfrozen) config: detectron2's defaults plus forgery_d2's keys."""
    return add_forgery_config(get_cfg())


class ConfigParams:
    """Base of the frozen settings dataclasses that a class method ``from_config(cfg)`` reads from a
    config: ``default()`` (the values of this file) and ``replace(**changes)`` for all of them."""

    @classmethod
    def default(cls):
        """The defaults of forgery_d2/config.py."""
        return cls.from_config(get_forgery_cfg())

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@functools.lru_cache(maxsize=1)
def _defaults():
    cfg = get_forgery_cfg()
    cfg.freeze()
    return cfg


def default_value(key: str):
    """The default of one config key, e.g. ``default_value("FORGERY.DATA.VAL_FRACTION")``: for code
    that takes a setting as an optional argument, so that the default is written only here."""
    node = _defaults()
    for part in key.split("."):
        node = node[part]
    return node


def fall_back_to_cpu(cfg) -> str:
    """Configs default to CUDA; without a GPU, set ``MODEL.DEVICE`` to cpu, and switch off
    ``SOLVER.AMP.ENABLED`` (detectron2's AMPTrainer asserts that CUDA is present). Returns the log
    line that says so, or "" when nothing changed. ``cfg`` must not be frozen."""
    if str(cfg.MODEL.DEVICE).startswith("cuda") and not torch.cuda.is_available():
        message = f"No CUDA GPU available: running on CPU (the config asked for MODEL.DEVICE={cfg.MODEL.DEVICE})."
        cfg.MODEL.DEVICE = "cpu"
        if cfg.SOLVER.AMP.ENABLED:
            cfg.SOLVER.AMP.ENABLED = False
            message += " Mixed precision (SOLVER.AMP.ENABLED) is CUDA-only: training in float32."
        return message
    return ""


class ConfigError(ValueError):
    """A config file, override or value that cannot be used: the message names the file or key
    and what is wrong (unknown keys come with the closest known ones)."""


def _all_keys(node, prefix=""):
    for key, value in node.items():
        yield prefix + key
        if isinstance(value, CN):
            yield from _all_keys(value, prefix + key + ".")


def _unknown_key(cfg, full_key, where):
    close = difflib.get_close_matches(full_key, list(_all_keys(cfg)), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return ConfigError(f"{where}: unknown config key {full_key}{hint}")


def _check_mapping(loaded, node, prefix, where, cfg):
    """Every key of a loaded YAML mapping exists in the config, and sections stay sections."""
    for key, value in loaded.items():
        full_key = prefix + str(key)
        if not prefix and key in ("_BASE_", "VERSION"):
            continue
        if not isinstance(key, str) or key not in node:
            raise _unknown_key(cfg, full_key, where)
        if isinstance(node[key], CN):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where}: {full_key} is a section of keys "
                    f"({full_key}.KEY: value), got the value {value!r}"
                )
            _check_mapping(value, node[key], full_key + ".", where, cfg)


def _merge_file(cfg, path, what, allow_unsafe):
    """``cfg.merge_from_file`` with every failure reported as a ConfigError naming the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            if yaml.safe_load(f) is None:
                return  # empty, or comments only: changes nothing
    except (yaml.YAMLError, RecursionError):
        pass  # reported below by detectron2's own loader (which may allow unsafe tags)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {what} {path}: {e}") from None
    try:
        loaded = cfg.load_yaml_with_base(path, allow_unsafe=allow_unsafe)
    except yaml.YAMLError as e:
        problem = " ".join(str(e).split())
        raise ConfigError(f"{what} {path} is not valid YAML: {problem}") from None
    except FileNotFoundError as e:
        raise ConfigError(
            f"{what} {path}: file not found: {e.filename} (a _BASE_ of it?)"
        ) from None
    except (OSError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"cannot read {what} {path}: {e}") from None
    except (AttributeError, TypeError) as e:  # a top level that is not a mapping
        raise ConfigError(
            f"{what} {path} must hold a mapping of config keys (KEY: value) ({e})"
        ) from None
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{what} {path} must hold a mapping of config keys (KEY: value), got a "
            f"{type(loaded).__name__}"
        )
    _check_mapping(loaded, cfg, "", f"{what} {path}", cfg)
    try:
        cfg.merge_from_file(path, allow_unsafe=allow_unsafe)
    except (KeyError, ValueError, TypeError, AssertionError, AttributeError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise ConfigError(f"{what} {path}: {message}") from None


def _merge_opts(cfg, opts):
    """``cfg.merge_from_list(opts)`` pair by pair, each failure a ConfigError naming the key."""
    opts = list(opts)
    if len(opts) % 2:
        raise ConfigError(
            f"config overrides are KEY VALUE pairs; got {len(opts)} words, the last "
            f"one ({opts[-1]!r}) has no value"
        )
    for key, value in zip(opts[0::2], opts[1::2]):
        node, parts = cfg, str(key).split(".")
        for part in parts:
            if not isinstance(node, CN) or part not in node:
                raise _unknown_key(cfg, str(key), "override")
            node = node[part]
        if isinstance(node, CN):
            raise ConfigError(
                f"override {key}: a section of keys, not a value; set {key}.KEY VALUE"
            )
        try:
            cfg.merge_from_list([key, value])
        except (ValueError, TypeError, AssertionError):
            raise ConfigError(
                f"override {key} {value!r}: expected type {type(node).__name__}, "
                f"like the default {node!r}"
            ) from None


def load_config(config_file=None, opts=(), overlays=(), freeze=True, device_fallback=True):
    """The config of a forgery_d2 run, the one way every tool builds it: :func:`get_forgery_cfg`,
    then ``config_file``, then each YAML of ``overlays`` (e.g. a ``decision.yaml`` written by the
    sweep; safe YAML only), then the ``KEY VALUE`` list ``opts``; then CUDA falls back to CPU with a
    log line (:func:`fall_back_to_cpu`; ``device_fallback=False`` leaves that to the caller).

    Raises :class:`ConfigError` naming the file or key for a missing or unreadable file, invalid
    YAML, an unknown key (with the closest known ones), a value of the wrong type, or an odd
    number of override words."""
    cfg = get_forgery_cfg()
    if config_file:
        _merge_file(cfg, config_file, "config file", allow_unsafe=True)  # detectron2's own default
    for overlay in overlays:
        if overlay:
            _merge_file(cfg, overlay, "config overlay", allow_unsafe=False)
    _merge_opts(cfg, opts)
    if device_fallback:
        message = fall_back_to_cpu(cfg)
        if message:
            logger.warning(message)
    if freeze:
        cfg.freeze()
    return cfg


def check_weights_file(cfg):
    """Raise ConfigError when ``MODEL.WEIGHTS`` names a local file that does not exist (URLs such
    as ``detectron2://`` or ``https://`` are left to detectron2's checkpointer)."""
    weights = cfg.MODEL.WEIGHTS
    if weights and "://" not in weights and not os.path.isfile(weights):
        raise ConfigError(f"MODEL.WEIGHTS file not found: {weights}")


def add_forgery_config(cfg):
    """Add forgery_d2's keys (all under ``cfg.FORGERY`` / ``cfg.MODEL.<PART>``) to a detectron2 config."""
    cfg.FORGERY = CN()
    _add_data_config(cfg)
    _add_decision_config(cfg)
    _add_training_config(cfg)
    _add_modeling_config(cfg)
    _add_matcher_config(cfg)
    _add_layout_config(cfg)
    return cfg


def _add_data_config(cfg):
    """Dataset loading (forgery_d2.data); applied by forgery_d2.data.builtin.register_builtin_from_config."""
    cfg.FORGERY.DATA = CN()
    # Folder holding recodai/ and synthetic/; "" = $FORGERY_DATASETS, else ./datasets.
    cfg.FORGERY.DATA.ROOT = ""
    # Fraction of train_images case_ids in the *_val split (hash of (seed, case_id), leak-free).
    cfg.FORGERY.DATA.VAL_FRACTION = 0.2
    # Seed of the train/val split; changing it changes which case_ids are validation.
    cfg.FORGERY.DATA.SPLIT_SEED = 0
    # Training instances: one per 8-connected component of each mask channel instead of per channel.
    cfg.FORGERY.DATA.SPLIT_COMPONENTS = False
    # With SPLIT_COMPONENTS, components smaller than this many pixels are dropped.
    cfg.FORGERY.DATA.MIN_COMPONENT_AREA = 16


def _add_decision_config(cfg):
    """The decision rule that turns model outputs into a submission row
    (forgery_d2.evaluation.decision); ``tools/eval_oF1.py --sweep`` tunes it on a validation set.
    Each default is derived from the metric, not from data; the reason is written beside it.
    """
    cfg.FORGERY.DECISION = CN()
    # The image is forged when its image_score (else its top instance score) >= this, else
    # authentic. Why 0.5: with a calibrated probability q that the image is forged and an expected
    # oF1 s of our masks on a forged image, calling it forged is worth q * s and authentic 1 - q, so
    # forged wins when q > 1 / (1 + s): 0.5 for perfect masks, higher for worse ones. 0.5 is the
    # lowest sensible value; raise it as mask quality drops. Any value >= 0; above every image
    # score (e.g. 1.5) it calls every image authentic.
    cfg.FORGERY.DECISION.IMAGE_THRESH = 0.5
    # Instances scoring below this are dropped. Why 0.5: the same break-even for one more instance
    # (an extra instance costs the factor n_gt / n_pred on the whole image): keep it only when it
    # is more likely real than not.
    cfg.FORGERY.DECISION.SCORE_THRESH = 0.5
    # Soft masks (uint8 probability x 255, or float): a pixel is forged when prob >= this. Why 0.5:
    # pixel F1 is maximized by thresholding calibrated probabilities near 0.5 (detectron2's own).
    cfg.FORGERY.DECISION.MASK_THRESH = 0.5
    # Instances with fewer pixels are dropped. Why 16: one 4x4 cell of the finest feature map
    # (stride 4); smaller instances are below what a segmentation head resolves, add a tiny F1 at
    # most, and still count as a prediction.
    cfg.FORGERY.DECISION.MIN_AREA = 16
    # Instances smaller than this fraction of the image are dropped (0 = off).
    cfg.FORGERY.DECISION.MIN_AREA_FRACTION = 0.0
    # Overlapping final instances with mask IoU >= this are merged into their union (0 = off).
    # Why 0.1: ground-truth instances are disjoint, so two overlapping predictions are almost surely
    # one instance; keeping both halves the image's score, their union scores 2(1+u)/(3+u) >= 0.67
    # (two equal copies of one GT region at IoU u). Any clear overlap merges; 0.1 ignores masks that
    # only touch at a border.
    cfg.FORGERY.DECISION.MERGE_IOU = 0.1
    # ... or with intersection / smaller area >= this (0 = off); 0.5: one mostly inside the other.
    cfg.FORGERY.DECISION.MERGE_CONTAINMENT = 0.5
    # Keep at most this many (merged) instances, best scores first. 0 = no limit: the metric names
    # no count; SCORE_THRESH controls it.
    cfg.FORGERY.DECISION.MAX_INSTANCES = 0


def _add_training_config(cfg):
    """Trainer, augmentations and hooks (forgery_d2.engine)."""
    # Training subsets (the stepwise recipe overfits 1, then 5 images). Handled by ForgeryTrainer.
    data = cfg.FORGERY.DATA if "DATA" in cfg.FORGERY else CN()
    cfg.FORGERY.DATA = data
    # train on N images of DATASETS.TRAIN (forged first, fixed order); 0 = all
    data.TRAIN_SUBSET = 0
    data.TRAIN_SUBSET_IDS = []  # explicit case_ids / image_ids to train on (overrides TRAIN_SUBSET)
    data.TRAIN_SUBSET_SEED = 0  # seed of the fixed shuffle that picks TRAIN_SUBSET images

    # Optimizer: "SGD" (detectron2's, SOLVER.*) or "AdamW" (same parameter groups, SOLVER.BASE_LR,
    # SOLVER.WEIGHT_DECAY): from-scratch networks on a few hundred CPU iterations learn much faster.
    cfg.FORGERY.SOLVER = CN()
    cfg.FORGERY.SOLVER.OPTIMIZER = "SGD"

    # Staged freezing (forgery_d2.engine.freeze): which parts train, from which iteration on.
    cfg.FORGERY.FREEZE = CN()
    # [[start_iter, "part,part,..."], ...]; first start must be 0; [] = everything trains.
    # Parts: stem res2..res5 fpn forensic self_correlation rpn box_head classifier box_regressor
    # mask_head image_gate; groups: bottom_up (stem..res5), backbone (bottom_up, fpn, forensic,
    # self_correlation), heads (rpn..image_gate), box_predictor, all; plus EXTRA_PARTS.
    cfg.FORGERY.FREEZE.STAGES = []
    # Extra parts: [["name", "glob,glob"], ...] over parameter names, e.g. [["forensic",
    # "forensic.*"]].
    cfg.FORGERY.FREEZE.EXTRA_PARTS = []

    # Forgery-safe train-time augmentation (forgery_d2.data.mapper); scale jitter is
    # INPUT.MIN_SIZE_TRAIN.
    cfg.FORGERY.AUG = CN()
    cfg.FORGERY.AUG.ENABLED = True  # False: resize only
    cfg.FORGERY.AUG.HFLIP_PROB = 0.5  # horizontal flip probability
    cfg.FORGERY.AUG.VFLIP_PROB = 0.5  # vertical flip probability
    cfg.FORGERY.AUG.ROT90_PROB = 0.5  # probability of an exact rotation by 90/180/270 degrees
    cfg.FORGERY.AUG.BRIGHTNESS = [0.8, 1.2]  # global brightness factor range; [] = off
    cfg.FORGERY.AUG.CONTRAST = [0.8, 1.2]  # global contrast factor range; [] = off
    cfg.FORGERY.AUG.BLUR_PROB = 0.2  # probability of a mild global Gaussian blur
    cfg.FORGERY.AUG.BLUR_SIGMA = [0.3, 1.0]  # blur sigma range in pixels (kept mild on purpose)

    # Training hooks (forgery_d2.engine.hooks). A PERIOD of 0 disables a hook.
    cfg.FORGERY.HOOKS = CN()
    cfg.FORGERY.HOOKS.VAL_LOSS = CN()
    cfg.FORGERY.HOOKS.VAL_LOSS.PERIOD = 0  # iterations between validation-loss passes
    cfg.FORGERY.HOOKS.VAL_LOSS.DATASET = ""  # dataset for the loss; "" = DATASETS.TEST[0]
    cfg.FORGERY.HOOKS.VAL_LOSS.NUM_IMAGES = 16  # fixed subset size (first N, forged and authentic)
    cfg.FORGERY.HOOKS.SEPARABILITY = CN()
    cfg.FORGERY.HOOKS.SEPARABILITY.PERIOD = 0  # iterations between ROI-feature separability probes
    cfg.FORGERY.HOOKS.SEPARABILITY.DATASET = ""  # probe dataset; "" = DATASETS.TEST[0]
    cfg.FORGERY.HOOKS.SEPARABILITY.NUM_IMAGES = 16  # fixed probe subset size
    cfg.FORGERY.HOOKS.SEPARABILITY.NEG_BOXES_PER_IMAGE = 8  # random authentic boxes per image
    # |mean diff| / pooled std for a "separating" dim
    cfg.FORGERY.HOOKS.SEPARABILITY.THRESHOLD = 1.0
    # EventStorage key picking model_best.pth; "" = off
    cfg.FORGERY.HOOKS.BEST_METRIC = "forgery/oF1"
    cfg.FORGERY.HOOKS.BEST_MODE = "max"  # "max" or "min" for BEST_METRIC
    cfg.FORGERY.HOOKS.PLOT_CURVES = True  # write training_curves.png from metrics.json at the end
    # iterations between metrics.json / console / TensorBoard writes
    cfg.FORGERY.HOOKS.LOG_PERIOD = 20


def _add_modeling_config(cfg):
    """Forensic streams, self-correlation, image gate, light backbone (forgery_d2.modeling)."""
    cfg.MODEL.FORGERY_RCNN = CN()
    # Inference returns uint8 0..255 mask probabilities (thresholded by FORGERY.DECISION) instead of
    # bool.
    cfg.MODEL.FORGERY_RCNN.SOFT_MASKS = True

    cfg.MODEL.FORENSIC = CN()
    # Forensic input streams to compute from the raw pixels: any of "srm", "bayar", "ela"; [] = RGB
    # only.
    cfg.MODEL.FORENSIC.STREAMS = []
    # "early": streams are extra stem input channels; "late": a second bottom-up merged per level
    # (RGB-N).
    cfg.MODEL.FORENSIC.FUSION = "early"
    # Bottom-up builder (BACKBONE_REGISTRY name) used by build_forensic_fpn_backbone.
    cfg.MODEL.FORENSIC.BOTTOM_UP = "build_resnet_backbone"
    # SRM/Bayar residuals (pixel units 0..255) are squashed as tanh(residual / RESIDUAL_SCALE).
    cfg.MODEL.FORENSIC.RESIDUAL_SCALE = 4.0
    # Output channels of the learnable constrained (Bayar) convolution.
    cfg.MODEL.FORENSIC.BAYAR_CHANNELS = 3
    # Kernel size (odd) of the Bayar convolution.
    cfg.MODEL.FORENSIC.BAYAR_KERNEL_SIZE = 5
    # JPEG quality of the Error Level Analysis recompression.
    cfg.MODEL.FORENSIC.ELA_QUALITY = 90
    # ELA |image - recompressed| (pixel units) is squashed as tanh(difference / ELA_SCALE).
    cfg.MODEL.FORENSIC.ELA_SCALE = 8.0

    cfg.MODEL.SELF_CORRELATION = CN()
    # Inject copy-move self-correlation (BusterNet-style top-k cosine scores) into one feature map.
    cfg.MODEL.SELF_CORRELATION.ENABLED = False
    # Feature map to correlate and augment: a bottom-up level (e.g. "res4") or an FPN level ("p4").
    cfg.MODEL.SELF_CORRELATION.IN_FEATURE = "res4"
    # Channels of the learned 1x1 projection matched by cosine similarity (0 = the raw features).
    cfg.MODEL.SELF_CORRELATION.DIM = 64
    # Number of best-matching scores kept per location (sorted, descending).
    cfg.MODEL.SELF_CORRELATION.TOPK = 16
    # Chebyshev radius (in feature cells) around each location excluded from its own matches.
    cfg.MODEL.SELF_CORRELATION.EXCLUDE_RADIUS = 2
    # Upper bound on similarity-matrix elements held at once (query rows are chunked to fit).
    cfg.MODEL.SELF_CORRELATION.CHUNK_ELEMENTS = 1 << 22
    # Hidden channels of the conv that maps [features, top-k scores] to the feature residual.
    cfg.MODEL.SELF_CORRELATION.HIDDEN_DIM = 128

    cfg.MODEL.IMAGE_GATE = CN()
    # Predict forged-vs-authentic per image (BCE on dataset "label"); outputs "image_score".
    cfg.MODEL.IMAGE_GATE.ENABLED = False
    # IMAGE_GATE_REGISTRY name of the head.
    cfg.MODEL.IMAGE_GATE.NAME = "PooledImageGate"
    # Backbone outputs pooled (masked mean + max over the valid image area) by the head.
    cfg.MODEL.IMAGE_GATE.IN_FEATURES = ["p3", "p4", "p5"]
    # Hidden width of the gate's MLP.
    cfg.MODEL.IMAGE_GATE.HIDDEN_DIM = 256
    # Weight of the gate's BCE loss in the total loss.
    cfg.MODEL.IMAGE_GATE.LOSS_WEIGHT = 1.0

    cfg.MODEL.COPY_EVIDENCE = CN()
    # Dense copy evidence (forgery_d2.matching.self_similarity_map) as extra input channels of the
    # backbone: how well each location's patch matches another one of the same figure. Needs a
    # ForgeryFPN backbone (MODEL.BACKBONE.NAME build_forensic_*_fpn_backbone).
    cfg.MODEL.COPY_EVIDENCE.ENABLED = False
    # Folder caching each image's map (keyed by path, size, mtime and these settings); "" = no
    # cache.
    cfg.MODEL.COPY_EVIDENCE.CACHE_DIR = ""
    # px: the map is computed on the figure brought to at most this long side (grain needs full
    # size).
    cfg.MODEL.COPY_EVIDENCE.MAX_SIZE = 2048
    # Gaussian blur sigmas (px) applied before taking the grain residual; one pass per value.
    cfg.MODEL.COPY_EVIDENCE.BLUR_LEVELS = [0.0]
    # px: side (odd) of the compared residual patches.
    cfg.MODEL.COPY_EVIDENCE.PATCH = 7
    # Patches are centred on local maxima of the residual energy over (2 r + 1)^2 squares.
    cfg.MODEL.COPY_EVIDENCE.NMS_RADIUS = 1
    # At most this many patches (the strongest maxima) are compared: bounded cost on huge figures.
    cfg.MODEL.COPY_EVIDENCE.MAX_POINTS = 60000
    # Low-frequency DCT coefficients per side that are hashed (DCT_SIZE^2 - 1 of them).
    cfg.MODEL.COPY_EVIDENCE.DCT_SIZE = 4
    # Hash tables, and bits per table (signs of random projections of the DCT coefficients).
    cfg.MODEL.COPY_EVIDENCE.TABLES = 4
    cfg.MODEL.COPY_EVIDENCE.BITS = 16
    # Each patch is compared with this many neighbours in the sorted order of each table.
    cfg.MODEL.COPY_EVIDENCE.WINDOW = 3
    # Residual correlation a matching pair of patches needs.
    cfg.MODEL.COPY_EVIDENCE.MIN_CORRELATION = 0.7
    # Residual left unexplained by the partner / grain of two independent patches: copies ~0.
    cfg.MODEL.COPY_EVIDENCE.MAX_NOISE_RATIO = 0.8
    # px (working scale): closer patches are the same spot, not a copy.
    cfg.MODEL.COPY_EVIDENCE.MIN_SHIFT = 12.0
    # Pairs that must imply the same transform (translation or mirror axis, 2 px bins).
    cfg.MODEL.COPY_EVIDENCE.MIN_VOTES = 3
    # Vote count at which the "votes" channel saturates at 1.
    cfg.MODEL.COPY_EVIDENCE.SATURATION_VOTES = 64
    # Grey levels: residual std below which a pixel is flat (no evidence possible).
    cfg.MODEL.COPY_EVIDENCE.MIN_TEXTURE = 0.5
    # Every colour channel textured on either side must correlate this well (merged panels).
    cfg.MODEL.COPY_EVIDENCE.MIN_COLOUR_CORRELATION = 0.75
    # px: runs of exactly equal pixels this long are rendered graphics (never evidence).
    cfg.MODEL.COPY_EVIDENCE.GRAPHICS_MIN_RUN = 5
    # Seed of the random hash projections (the map is deterministic).
    cfg.MODEL.COPY_EVIDENCE.SEED = 0

    cfg.MODEL.FORGERY_DENSE = CN()
    # ForgeryDenseNet: a per-pixel forgery head on FPN levels (semantic-segmentation style) and an
    # image head; instances are the predicted forged pixels.
    cfg.MODEL.FORGERY_DENSE.IN_FEATURES = ["p2", "p3", "p4", "p5"]
    # Channels of the head's convs; stride the levels are brought to before the 1x1 predictor.
    cfg.MODEL.FORGERY_DENSE.CONV_DIM = 64
    cfg.MODEL.FORGERY_DENSE.COMMON_STRIDE = 4
    # Normalization of the head's convs ("" = none, "GN").
    cfg.MODEL.FORGERY_DENSE.NORM = "GN"
    # Weights of the pixel losses: binary cross-entropy (forged pixels weighted by POS_WEIGHT) and
    # Dice.
    cfg.MODEL.FORGERY_DENSE.BCE_WEIGHT = 1.0
    cfg.MODEL.FORGERY_DENSE.POS_WEIGHT = 5.0
    cfg.MODEL.FORGERY_DENSE.DICE_WEIGHT = 1.0
    # Weight of the image head's BCE (forged vs authentic figure).
    cfg.MODEL.FORGERY_DENSE.IMAGE_LOSS_WEIGHT = 1.0
    # The image head pools the pixel logits (max, mean of the top TOPK_FRACTION, mean) and the mean
    # / max of these backbone features.
    cfg.MODEL.FORGERY_DENSE.IMAGE_FEATURES = ["p4", "p5"]
    cfg.MODEL.FORGERY_DENSE.TOPK_FRACTION = 0.01
    # Hidden width of the image head's MLP.
    cfg.MODEL.FORGERY_DENSE.IMAGE_HIDDEN_DIM = 64
    # With copy evidence: also give the evidence straight to the pixel predictor (max-pooled to its
    # stride) and to the image head (pooled), besides the backbone's stem.
    cfg.MODEL.FORGERY_DENSE.EVIDENCE_SHORTCUT = True

    cfg.MODEL.MOBILENET = CN()
    # torchvision MobileNetV3 variant: "small" or "large".
    cfg.MODEL.MOBILENET.ARCH = "small"
    # Channel width multiplier of torchvision's MobileNetV3.
    cfg.MODEL.MOBILENET.WIDTH_MULT = 1.0
    # Normalization: "BN" (trainable batch norm), "FrozenBN" or "GN" (GroupNorm, from-scratch
    # training).
    cfg.MODEL.MOBILENET.NORM = "BN"
    # Stage outputs (stride 4, 8, 16, 32 = res2..res5) returned by the bottom-up.
    cfg.MODEL.MOBILENET.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    # Optional torchvision MobileNetV3 state_dict (.pth) loaded into the bottom-up; "" = random
    # init.
    cfg.MODEL.MOBILENET.WEIGHTS = ""
    # Freeze the stem and the first FREEZE_AT stages (0 = train everything).
    cfg.MODEL.MOBILENET.FREEZE_AT = 0


def _add_matcher_config(cfg):
    """Copy-move matchers (forgery_d2.matching) and their fusion with a network."""
    cfg.MODEL.COPY_MOVE = CN()
    # The matcher of the CopyMoveMatcher meta-architecture (and of FusionRCNN): "figure"
    # (FigureMatcher: layout, keypoints + panel alignment + grain hashing, pixel evidence) or
    # "keypoint" (KeypointMatcher: keypoints and dense ZNCC verification only, figure-unaware).
    cfg.MODEL.COPY_MOVE.MATCHER = "figure"

    m = cfg.MODEL.KEYPOINT_MATCHER = CN()
    m.MAX_KEYPOINTS = 4000  # SIFT keypoints kept per image (each also has a mirrored descriptor)
    m.DETECT_MIN_SIZE = 768  # smaller images are upscaled to this longer side for detection...
    m.MAX_UPSCALE = 3.0  # ...but by at most this factor
    m.DETECT_MAX_SIZE = 1600  # larger images are downscaled to this longer side for detection
    m.CLAHE = True  # contrast-limited histogram equalization before detection (low-texture blots)
    m.CLAHE_CLIP_LIMIT = 2.0  # CLAHE clip limit
    m.CLAHE_TILE = 8  # CLAHE tiles per side
    m.SIFT_CONTRAST_THRESHOLD = 0.02  # OpenCV SIFT contrastThreshold (lower = more keypoints)
    m.ROOT_SIFT = True  # RootSIFT descriptors (Hellinger kernel) instead of plain SIFT
    m.MATCH_FLIPS = True  # also match against mirrored descriptors: finds flipped copies
    m.KNN = 8  # neighbours examined per keypoint by the g2NN test
    m.RATIO = 0.7  # g2NN: accept neighbours before the first jump d_i / d_{i+1} < RATIO
    m.MIN_MATCH_DISTANCE = 12.0  # px (detection scale): closer pairs are the same spot, not a copy
    m.MAX_MATCHES = 3000  # best matches kept (by descriptor distance) before clustering
    m.CLUSTER_DISTANCE = 0.04  # single-linkage cut for keypoint clusters, x longer side
    m.TRANSFORM = "similarity"  # RANSAC model: "similarity" (flips handled) or "affine"
    m.RANSAC_REPROJ_THRESHOLD = 3.0  # px (detection scale)
    m.MIN_INLIERS = 6  # RANSAC inliers needed for a transform
    m.MAX_SCALE_CHANGE = 2.0  # transforms scaling by more than this (or less than 1/x) are rejected
    m.MAX_ANISOTROPY = 1.5  # max ratio of the transform's singular values
    m.MAX_TRANSFORMS = 12  # transforms verified per image (most inliers first)
    m.VERIFY_MAX_SIZE = 1024  # dense verification runs at most at this longer side
    m.REFINE = True  # sub-pixel refinement of each transform before verification
    m.VERIFY_TOLERANCE = 1  # px of slack in the comparison for rotated/rescaled copies
    m.VERIFY_WINDOW = 7  # px window of the local correlation
    m.VERIFY_MIN_ZNCC = 0.9  # local zero-normalized correlation for a pixel to count as copied
    m.VERIFY_MAX_ABS_DIFF = 12.0  # max local mean |difference| in grey levels
    m.VERIFY_MIN_STD = 3.0  # grey-level std below which a window is flat (no evidence)
    m.MORPH_KERNEL = 5  # px, closing/opening of the verified map
    m.MIN_REGION_AREA = 64  # px (verification scale): smaller copies are dropped
    # add flat pixels inside the evidence's convex hull that agree with the source
    m.FILL_HULL = True
    # reject a "copy" overlapping its own source by more (symmetric objects)
    m.MAX_SELF_OVERLAP = 0.5
    # two verified transforms whose masks overlap more (IoU) describe one copy: merged
    m.SAME_COPY_IOU = 0.5
    m.MAX_INSTANCES = 5  # instances returned per image
    m.INLIER_SATURATION = 10.0  # score = mean ZNCC * (1 - exp(-inliers / INLIER_SATURATION))

    g = cfg.MODEL.FIGURE_MATCHER = CN()
    # forgery_d2.matching.figure_matcher (its keypoint stage reads MODEL.KEYPOINT_MATCHER).
    # px: panel alignment and verification run at most at this long side (a figure showing JPEG
    # compression; forgery_d2.matching.jpeg_grid)
    g.VERIFY_MAX_SIZE = 1280
    # px: the same for a figure showing no JPEG grid: its grain is intact at its own pixels, and
    # bringing it down averages the copy evidence away. On development seeds 5 and 11 verifying such
    # figures at their own size found more (oF1 0.703 -> 0.709 and 0.715 -> 0.717) while
    # compressed figures lost there (they gain from the averaging). A value <= VERIFY_MAX_SIZE
    # turns the test off.
    g.VERIFY_MAX_SIZE_UNCOMPRESSED = 2048
    # forgery_d2.matching.jpeg_grid strength from which a figure counts as JPEG-compressed
    # (development seeds 5 and 11: uncompressed figures -0.05..0.05, quality 60-91 >= 0.16)
    g.JPEG_GRID_MIN_STRENGTH = 0.1
    g.KEYPOINTS = True  # candidates from keypoints (SIFT off text / marks / canvas, g2NN, RANSAC)
    # Copies rescaled by more than this (or less than its inverse) are not searched: a region shown
    # again 2x or more is a zoom inset, a legitimate repetition (panel reuse rescales by 0.75-1.3).
    g.MAX_SCALE_CHANGE = 1.45
    # Its keypoint stage is MODEL.KEYPOINT_MATCHER's, with a looser g2NN ratio and fewer inliers:
    # in blots every band looks like every other, so a true match is rarely distinctive; the pixel
    # evidence, not the descriptor test, decides.
    g.KEYPOINT_RATIO = 0.8
    g.KEYPOINT_MIN_INLIERS = 5
    # a keypoint copy is verified within its inliers' box grown by this x its size
    g.KEYPOINT_REGION_MARGIN = 0.5
    # candidates from aligning every ordered pair of panels (whole / partial reuse)
    g.PANEL_ALIGNMENT = True
    g.PANEL_THUMB_SIZE = 64  # px: the panel search runs on thumbnails of about this size squared
    g.PANEL_SCALES = [0.77, 0.87, 1.0, 1.15, 1.3]  # copy / source scales tried by the panel search
    g.PANEL_MIN_NCC = 0.75  # thumbnail correlation a panel pair needs to become a candidate
    # candidates from hashing grain patches and voting on offsets (small copies)
    g.GRAIN_HASHING = True
    g.GRAIN_MIN_VOTES = 6  # patch pairs (8x8, every 2 px) a grain-hashing transform needs
    g.GRAIN_MIN_SHIFT = 10.0  # px: patches closer than this are the same spot, not a copy
    g.GRAIN_MAX_CANDIDATES = 12  # grain-hashing transforms kept per figure (most votes first)
    # Grain hashing finds untransformed copies, and an untransformed copy repeats its source's
    # grain: its verified mean residual ZNCC is near 1. On two development sets (generator seeds 5
    # and 11) every grain match that was a real copy (F1 > 0.3) had >= 0.98, every one on an
    # authentic figure <= 0.97 (look-alike bands, textures). Copies whose grain was degraded (blur,
    # JPEG, resampling) are left to the keypoint and panel searches. Read at the figure's own
    # resolution (a figure brought down to VERIFY_MAX_SIZE resamples the two sides of a whole-pixel
    # move at different sub-pixel phases: 0.94-0.97 for true copies there).
    g.GRAIN_MIN_RESIDUAL_ZNCC = 0.975
    # A duplication is reported only when at least this many pixels of the figure (original
    # resolution, the report's "verified pixels") are verified as copied. Precision on authentic
    # figures first: on three development sets (generator seeds 5, 6, 11; 321 authentic figures)
    # 22 of 24 false alarms had fewer (look-alike bands, cells or glyph fragments matching by
    # chance), against 7 of 105 real finds. 0 keeps even the smallest copies (e.g. a single band).
    g.MIN_VERIFIED_PIXELS = 400
    # A grain-hashing match (GRAIN_HASHING) that has passed GRAIN_MIN_RESIDUAL_ZNCC at the figure's
    # own resolution is an exact whole-pixel copy whose grain repeats its source's, which chance
    # look-alikes do not do: it is reported from this many verified pixels when its copy is one
    # object (one connected region holding 90 % of its mask: a band, a cell), not spots scattered
    # over the figure (channel panels of one field of view share grain there). On development
    # seeds 5 and 11, 14 of the 15 verified matches below 400 px on authentic figures were keypoint
    # hypotheses, the grain one had 147 px; 200 found five more forged figures of seed 11. The
    # one-object condition comes from the false alarm it then made on seed 2036 (docs/BENCHMARKS.md,
    # stage M). A value at or above MIN_VERIFIED_PIXELS treats grain matches like the others.
    g.GRAIN_MIN_VERIFIED_PIXELS = 200
    # rendered graphics (constant-colour shapes, lines and their edges) are never evidence
    g.EXCLUDE_GRAPHICS = True
    # px: runs of exactly equal pixels along a row or column this long are graphics
    g.GRAPHICS_MIN_RUN = 5
    # Pixel evidence (forgery_d2.matching.evidence / copy_verification):
    g.WINDOW = 7  # px: side of the window of the local correlations
    # Both sides are blurred by each sigma before the residual; the best is kept.
    g.BLUR_LEVELS = [0.0, 1.0]
    # residual correlation an evidence pixel needs (look-alikes stay near 0)
    g.MIN_RESIDUAL_ZNCC = 0.6
    g.MIN_INTENSITY_ZNCC = 0.7  # intensity correlation an evidence pixel needs
    g.MIN_TEXTURE = 0.1  # grey levels: residual std below which a pixel is flat (no evidence)
    # Residual difference of copy and source / that of two independent patches of the region's
    # grain: a copy is near 0, a look-alike >= 1 (forgery_d2.matching.evidence).
    g.MAX_NOISE_RATIO = 0.6
    # The same ratio with the source shifted UNIQUENESS_SHIFT px along x or y must reach
    # max(MIN_SHIFTED_RATIO, SHIFT_CONTRAST x the exact ratio): grain matches at one place only;
    # lines, stripes and periodic patterns match their shifted selves too.
    g.MIN_SHIFTED_RATIO = 0.15
    g.SHIFT_CONTRAST = 2.0
    g.UNIQUENESS_SHIFT = 3.0  # px
    g.MIN_COMPONENT_PIXELS = 12  # evidence components smaller than this are noise
    # a duplication needs at least this many evidence pixels (verification frame)
    g.MIN_EVIDENCE_PIXELS = 24
    # px: gaps and holes in the evidence up to this are closed (only where pixels agree)
    g.MAX_GAP = 3
    # grey levels: a closed-over pixel must agree this well with its fitted source
    g.AGREE_TOLERANCE = 10.0
    # A verified transform making this fraction of the panel holding its evidence agree with its
    # source pixel for pixel, and this fraction of its pixels where the source varies by at least
    # AGREE_TOLERANCE over a window (flat areas agree under any move), marks the whole panel as
    # copied (a reused panel, dark background included).
    g.MIN_REGION_AGREEMENT = 0.8
    # In colour figures every colour channel textured on either side must correlate this well over
    # the evidence (a merged overlay panel matches each single-channel panel in grey, not in
    # colour).
    g.MIN_COLOUR_ZNCC = 0.5
    # a "copy" overlapping its own source by more is a symmetric object: rejected
    g.MAX_SELF_OVERLAP = 0.5
    g.EVIDENCE_SATURATION = 60.0  # score = mean residual ZNCC x (1 - exp(-evidence pixels / this))
    g.SAME_COPY_IOU = 0.3  # verified duplications overlapping more (mask IoU) are one: merged
    g.MAX_CANDIDATES = 12  # candidate transforms verified per figure and per search (best first)
    g.MAX_INSTANCES = 5  # duplications returned per figure, best first

    f = cfg.MODEL.FUSION = CN()
    f.RCNN_META_ARCHITECTURE = "GeneralizedRCNN"  # network part of FusionRCNN (e.g. "ForgeryRCNN")
    # "union", "boost", "network_if_matcher", "matcher_if_network" or "verify_and_add"
    # (see modeling/meta_arch/fusion.py)
    f.MODE = "union"
    # Test-time resize of the network's input inside FusionRCNN (shortest edge, max size; 0 = use
    # the
    # image as the data loader gives it). Fusion configs set INPUT.MIN_SIZE_TEST 0 so the matcher
    # sees the original image while the network sees the size it was trained at.
    f.RCNN_MIN_SIZE_TEST = 0
    f.RCNN_MAX_SIZE_TEST = 1333
    f.MASK_THRESHOLD = 0.5  # soft network masks (uint8 0..255) are binarized at this for overlaps
    # union: a matcher instance overlapping a network one more is merged into it
    f.UNION_MERGE_IOU = 0.5
    # boost: a network instance agrees with the matcher at this mask IoU or more
    f.BOOST_AGREE_IOU = 0.3
    f.BOOST = 0.5  # boost: agreeing score s -> s + BOOST * (1 - s)
    f.PENALTY = 0.5  # boost: disagreeing score s -> s * PENALTY
    # matcher_if_network: matcher output kept if a network score >= this
    f.NETWORK_SCORE_THRESH = 0.5
    f.MATCHER_SCORE_WEIGHT = 1.0  # union: matcher scores are multiplied by this
    # verify_and_add: weight w of the network's support s (its mean forged-pixel probability over
    # a matcher instance's mask) in log-odds: logit(score) += w * logit(s); 0 = the matcher's score
    # as it is.
    f.VERIFY_WEIGHT = 0.5
    # verify_and_add: a network instance sharing more than this fraction of the smaller area with a
    # matcher instance is the same find (not added beside the matcher's mask); 0.1 tolerates the
    # blob's edge touching a copy, nothing more.
    f.VERIFY_SAME_FIND = 0.1


def _add_layout_config(cfg):
    """Figure layout: panels and text/marks of a figure (forgery_d2.layout, docs/LAYOUT.md)."""
    layout = cfg.MODEL.LAYOUT = CN()
    layout.ANALYZER = "classical"  # "classical" (no training) or "detector" (a trained detectron2)

    d = layout.DETECTOR = CN()  # the detector analyzer (forgery_d2/layout/detector.py)
    # The layout detector's own config (a relative path: to the cwd, else to the repository root).
    d.CONFIG = "configs/layout/layout_R_18_FPN.yaml"
    d.WEIGHTS = ""  # its trained weights (e.g. output/layout_R_18_FPN/model_final.pth); required
    d.PANEL_SCORE_THRESH = 0.5  # panels below this score are dropped
    d.TEXT_SCORE_THRESH = 0.5  # text boxes below this score are dropped
    d.MARK_SCORE_THRESH = 0.5  # mark boxes below this score are dropped
    d.INK_TOLERANCE = 48  # ink = box pixels within this (max over channels) of the box's ink colour
    d.INK_DILATION = 1  # px the ink mask grows by (anti-aliased edges)

    c = layout.CLASSICAL = CN()  # the classical analyzer (forgery_d2/layout/classical.py)
    c.CANVAS_TOLERANCE = 12  # grey levels (max over channels) a canvas pixel may differ from it
    c.CANVAS_MIN_RUN = 7  # px: canvas pixels lie on straight runs at least this long (not speckles)
    c.CANVAS_MIN_FRAME_FRACTION = 0.5  # the canvas colour covers this much of the 2-px outer frame
    c.CANVAS_NOISE = 40  # small canvas components never differing from it by more are noise (JPEG)
    c.MIN_PANEL_SIZE = 16  # px: panels are at least this long (and half this thick)...
    c.MIN_PANEL_FRACTION = 0.03  # ...or this fraction of the figure's long side, if larger
    c.MIN_PANEL_FILL = 0.3  # a panel's box is at least this fraction non-canvas
    c.MIN_GUTTER = 1  # px: narrowest gutter (canvas rows / columns) the XY-cut splits on
    c.EDGE_MIN_FRACTION = 0.5  # touching panels: fraction of rows (columns) a boundary must show in
    c.EDGE_MIN_STEP = 16  # touching panels: grey-level step across a boundary
    c.EDGE_RATIO = 2.0  # touching panels: the step is this many times the texture on either side
    c.INK_TOLERANCE = 48  # ink colours: every channel within this of 0 or 255 (black, white...)
    c.MIN_INK_CONTRAST = 80.0  # ink differs from the pixels 2 px around it by >= this (median)
    c.MIN_INK_SHARPNESS = 0.8  # contrast at 2 px / contrast at 4 px: drawn edges are sharp
    c.MIN_INK_FLATNESS = 0.2  # fraction of ink pixels within INK_TOLERANCE / 3 of the ink colour
    c.MIN_GLYPH_SIZE = 6  # px: smaller ink components inside panels are ignored
    c.MAX_STROKE_WIDTH = 6.0  # px: ink strokes are at most this wide...
    c.MAX_STROKE_FRACTION = 0.006  # ...or this fraction of the long side, whichever is larger
    c.MAX_MARK_FRACTION = 0.35  # ink components are at most this x their panel's long side
    c.MIN_BAR_LENGTH = 8  # px: shortest bar / tick / arrow (shorter bars are glyphs: "-")
    c.TEXT_GAP = 0.6  # glyphs of one label are at most this x their height apart
    c.MIN_MARK_SCORE = 0.25  # text / mark boxes scoring less are dropped (and not masked)
    c.INK_DILATION = 1  # px the ink mask grows by (anti-aliased edges)
