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
    """The decision rule that turns model outputs into a submission row (forgery_d2.evaluation)."""
    cfg.FORGERY.DECISION = CN()


def _add_training_config(cfg):
    """Trainer, augmentations and hooks (forgery_d2.engine)."""


def _add_modeling_config(cfg):
    """Forensic streams, self-correlation, image gate, light backbone (forgery_d2.modeling)."""


def _add_matcher_config(cfg):
    """Keypoint copy-move matcher and fusion (forgery_d2.matching)."""
