"""What ``tools/train_net.py`` runs under detectron2's ``launch``: the config of a command line
(:func:`setup`) and the train / evaluate entry point (:func:`main`, :func:`run`)."""

import json
import logging
import os
import sys

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import default_setup
from detectron2.evaluation import verify_results
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from forgery_d2.competition.submission import SubmissionError
from forgery_d2.config import ConfigError, check_weights_file, fall_back_to_cpu, load_config
from forgery_d2.data.builtin import register_builtin_from_config, registered_names
from forgery_d2.data.io import DataError
from forgery_d2.data.mapper import AugmentationConfigError
from forgery_d2.evaluation.decision import DecisionRule
from forgery_d2.evaluation.ground_truth import check_labelled

from .freeze import FreezeConfigError
from .trainer import ForgeryTrainer, TrainingSubsetError

__all__ = [
    "setup",
    "check_run",
    "preflight",
    "main",
    "run",
    "EVAL_RESULTS_FILE",
    "USER_ERRORS",
    "EXIT_INVALID",
]

EXIT_INVALID = 2  # exit code of a run stopped by an error in the user's config or data

EVAL_RESULTS_FILE = "eval_results.json"  # written by --eval-only in OUTPUT_DIR


def setup(args):
    """The frozen config of a ``default_argument_parser()`` command line
    (:func:`forgery_d2.config.load_config`: ``--config-file``, then the trailing KEY VALUE
    overrides, CPU fallback logged to OUTPUT_DIR/log.txt); the builtin datasets re-registered with
    ``FORGERY.DATA``; detectron2's ``default_setup`` (logging, config backup, seeding)."""
    if args.num_gpus > 1 and not torch.cuda.is_available():
        raise SystemExit(f"--num-gpus {args.num_gpus} was given but no CUDA GPU is available")
    cfg = load_config(args.config_file, args.opts, freeze=False, device_fallback=False)
    fallback = fall_back_to_cpu(cfg)  # logged below, once the log file exists
    cfg.freeze()
    check_run(cfg, args)
    default_setup(cfg, args)
    # forgery_d2's own loggers (freeze stages, hooks, data) to the console and OUTPUT_DIR/log.txt.
    setup_logger(
        cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="forgery_d2", abbrev_name="fd2"
    )
    if fallback:
        logging.getLogger("detectron2").warning(fallback)
    return cfg


def _will_load_weights(cfg, args) -> bool:
    """True when the run loads MODEL.WEIGHTS (not resuming from OUTPUT_DIR's last checkpoint)."""
    return not (args.resume and os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "last_checkpoint")))


def check_run(cfg, args):
    """Everything about a run that can be checked before it starts, each failure one clear error:
    the builtin datasets re-registered with ``FORGERY.DATA`` and every dataset name of the config
    registered (DataError), the evaluation datasets labelled (DataError: evaluation runs at the end
    of training too), ``FORGERY.DECISION`` in range and ``MODEL.WEIGHTS`` present (ConfigError)."""
    register_builtin_from_config(cfg)  # dataset root and split options of cfg.FORGERY.DATA
    hooks = cfg.FORGERY.HOOKS
    names = [
        *cfg.DATASETS.TRAIN,
        *cfg.DATASETS.TEST,
        hooks.VAL_LOSS.DATASET,
        hooks.SEPARABILITY.DATASET,
    ]
    registered_names([n for n in dict.fromkeys(names) if n])
    for name in cfg.DATASETS.TEST:
        check_labelled(name)
    DecisionRule.from_config(cfg)
    if _will_load_weights(cfg, args):
        check_weights_file(cfg)


def preflight(args):
    """:func:`check_run` on a command line's config, in the launching process: an error ends the
    command there with one line (exit code 2), before detectron2's ``launch`` spawns workers."""
    try:
        cfg = load_config(args.config_file, args.opts, device_fallback=False)
        check_run(cfg, args)
    except USER_ERRORS as e:
        _exit_with(e)


def _exit_with(error):
    print(f"train_net: error: {error}", file=sys.stderr)
    sys.exit(EXIT_INVALID)


# Errors in the user's config or data: reported as one line, not as a traceback.
USER_ERRORS = (
    ConfigError,
    FreezeConfigError,
    AugmentationConfigError,
    DataError,
    TrainingSubsetError,
    SubmissionError,
)


def main(args, trainer_class=ForgeryTrainer):
    """:func:`run`, with errors in the user's config or data reported as one clear line (exit code
    2)."""
    try:
        return run(args, trainer_class)
    except USER_ERRORS as e:
        logging.getLogger("forgery_d2").error(f"{type(e).__name__}: {e}")
        _exit_with(e)


def run(args, trainer_class=ForgeryTrainer):
    """Train (``--resume`` continues from OUTPUT_DIR's last checkpoint) or, with ``--eval-only``,
    evaluate ``MODEL.WEIGHTS`` (or the last checkpoint with ``--resume``) on DATASETS.TEST and
    write the results to ``OUTPUT_DIR/eval_results.json``."""
    cfg = setup(args)
    if args.eval_only:
        model = trainer_class.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        results = trainer_class.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, results)
            with open(os.path.join(cfg.OUTPUT_DIR, EVAL_RESULTS_FILE), "w") as f:
                json.dump(results, f, indent=2, sort_keys=True)
        return results

    trainer = trainer_class(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()
