"""Training and inference: ForgeryTrainer, the train_net entry point, staged freezing, training
hooks, and the batch predictor used by the tools.

See docs/TRAINING.md. ``tools/train_net.py`` is ``launch(main, ...)`` over :func:`runner.main`.
"""
from .freeze import FreezeConfigError
from .hooks import BestCheckpointer, FeatureSeparability, FreezeSchedule, TrainingCurves, ValidationLoss
from .predictor import BatchPredictor, ImageFolder, build_inference_model
from .runner import main, setup
from .separability import separability_stats
from .trainer import ForgeryTrainer, select_training_subset

__all__ = [
    "ForgeryTrainer",
    "setup",
    "main",
    "select_training_subset",
    "FreezeConfigError",
    "FreezeSchedule",
    "ValidationLoss",
    "FeatureSeparability",
    "BestCheckpointer",
    "TrainingCurves",
    "separability_stats",
    "BatchPredictor",
    "ImageFolder",
    "build_inference_model",
]
