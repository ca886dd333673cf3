"""Training: ForgeryTrainer, the train_net entry point, staged freezing and training hooks.

See docs/TRAINING.md. ``tools/train_net.py`` is ``launch(main, ...)`` over :func:`main`.
"""
from .freeze import FreezeConfigError, register_part
from .hooks import BestCheckpointer, FeatureSeparability, FreezeSchedule, TrainingCurves, ValidationLoss
from .launch import main, setup
from .separability import separability_stats
from .trainer import ForgeryTrainer, select_training_subset

__all__ = [
    "ForgeryTrainer",
    "setup",
    "main",
    "select_training_subset",
    "register_part",
    "FreezeConfigError",
    "FreezeSchedule",
    "ValidationLoss",
    "FeatureSeparability",
    "BestCheckpointer",
    "TrainingCurves",
    "separability_stats",
]
