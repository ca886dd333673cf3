"""Training and inference: ForgeryTrainer, the train_net entry point, staged freezing, training
hooks, the batch predictor used by the tools, and screening folders of figures at scale
(:mod:`.screening`: shards, resume, assembly; :mod:`.predictions`: the per-figure records;
:mod:`.launch`: processes on GPUs through detectron2's launch, on CPUs through torch + gloo).

See docs/TRAINING.md. ``tools/train_net.py`` is ``launch(main, ...)`` over :func:`runner.main`;
``tools/predict.py`` is ``launch(screen_worker, ...)`` (docs/EVALUATION.md, "Screening a folder").
"""

from .freeze import FreezeConfigError
from .hooks import (
    BestCheckpointer,
    FeatureSeparability,
    FreezeSchedule,
    TrainingCurves,
    ValidationLoss,
)
from .launch import launch
from .predictions import RecordWriter, figure_record, read_records, unreadable_record
from .predictor import BatchPredictor, ImageFolder, build_inference_model
from .runner import main, setup
from .screening import ScreeningError, ScreeningOptions, assemble, screen_shard, screen_worker
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
    "launch",
    "RecordWriter",
    "figure_record",
    "unreadable_record",
    "read_records",
    "ScreeningError",
    "ScreeningOptions",
    "assemble",
    "screen_shard",
    "screen_worker",
]
