"""forgery_d2's config keys. Call ``add_forgery_config(cfg)`` on a ``get_cfg()`` before merging a
forgery_d2 YAML, like ``add_pointrend_config`` in detectron2's projects.

Each section below belongs to one part of the plugin; every key has a comment.
"""
from detectron2.config import CfgNode as CN

__all__ = ["add_forgery_config"]


def add_forgery_config(cfg):
    """Add forgery_d2's keys (all under ``cfg.FORGERY`` / ``cfg.MODEL.<PART>``) to a detectron2 config."""
    cfg.FORGERY = CN()
    _add_data_config(cfg)
    _add_decision_config(cfg)
    _add_training_config(cfg)
    _add_modeling_config(cfg)
    _add_matcher_config(cfg)
    return cfg


def _add_data_config(cfg):
    """Dataset loading (forgery_d2.data)."""
    cfg.FORGERY.DATA = CN()


def _add_decision_config(cfg):
    """The decision rule that turns model outputs into a submission row (forgery_d2.evaluation).

    Why the defaults: see forgery_d2/evaluation/decision.py; tools/eval_oF1.py --sweep tunes them.
    """
    cfg.FORGERY.DECISION = CN()
    # Image gate: forged when image_score (else the top instance score) >= this; below = authentic.
    cfg.FORGERY.DECISION.IMAGE_THRESH = 0.5
    # Instances with a score below this are dropped.
    cfg.FORGERY.DECISION.SCORE_THRESH = 0.5
    # Soft masks (uint8 probability x 255, or float): a pixel is forged when prob >= this.
    cfg.FORGERY.DECISION.MASK_THRESH = 0.5
    # Instances with fewer pixels than this are dropped (16 = one stride-4 cell).
    cfg.FORGERY.DECISION.MIN_AREA = 16
    # Instances smaller than this fraction of the image are dropped (0 = off).
    cfg.FORGERY.DECISION.MIN_AREA_FRACTION = 0.0
    # Overlapping instances with mask IoU >= this are merged into their union (0 = off).
    cfg.FORGERY.DECISION.MERGE_IOU = 0.1
    # ... or with intersection / smaller area >= this (0 = off).
    cfg.FORGERY.DECISION.MERGE_CONTAINMENT = 0.5
    # Keep at most this many (merged) instances, best scores first (0 = no limit).
    cfg.FORGERY.DECISION.MAX_INSTANCES = 0


def _add_training_config(cfg):
    """Trainer, augmentations and hooks (forgery_d2.engine)."""


def _add_modeling_config(cfg):
    """Forensic streams, self-correlation, image gate, light backbone (forgery_d2.modeling)."""
    cfg.MODEL.FORGERY_RCNN = CN()
    # Inference returns uint8 0..255 mask probabilities (thresholded by FORGERY.DECISION) instead of bool.
    cfg.MODEL.FORGERY_RCNN.SOFT_MASKS = True

    cfg.MODEL.FORENSIC = CN()
    # Forensic input streams to compute from the raw pixels: any of "srm", "bayar", "ela"; [] = RGB only.
    cfg.MODEL.FORENSIC.STREAMS = []
    # "early": streams are extra stem input channels; "late": a second bottom-up merged per level (RGB-N).
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

    cfg.MODEL.MOBILENET = CN()
    # torchvision MobileNetV3 variant: "small" or "large".
    cfg.MODEL.MOBILENET.ARCH = "small"
    # Channel width multiplier of torchvision's MobileNetV3.
    cfg.MODEL.MOBILENET.WIDTH_MULT = 1.0
    # Normalization: "BN" (trainable batch norm) or "FrozenBN".
    cfg.MODEL.MOBILENET.NORM = "BN"
    # Stage outputs (stride 4, 8, 16, 32 = res2..res5) returned by the bottom-up.
    cfg.MODEL.MOBILENET.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    # Optional torchvision MobileNetV3 state_dict (.pth) loaded into the bottom-up; "" = random init.
    cfg.MODEL.MOBILENET.WEIGHTS = ""
    # Freeze the stem and the first FREEZE_AT stages (0 = train everything).
    cfg.MODEL.MOBILENET.FREEZE_AT = 0


def _add_matcher_config(cfg):
    """Keypoint copy-move matcher and fusion (forgery_d2.matching)."""
