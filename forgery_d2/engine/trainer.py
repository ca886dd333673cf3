"""ForgeryTrainer: detectron2's DefaultTrainer with forgery data, evaluation and training hooks."""

import logging
import os
import weakref
from typing import List

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import (
    DatasetCatalog,
    MetadataCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.engine import (
    AMPTrainer,
    DefaultTrainer,
    SimpleTrainer,
    TrainerBase,
    create_ddp_model,
)
from detectron2.engine import hooks as d2_hooks
from detectron2.evaluation import COCOEvaluator
from detectron2.solver.build import get_default_optimizer_params, maybe_add_gradient_clipping
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from fvcore.nn.precise_bn import get_bn_modules

from forgery_d2.data.mapper import ForgeryDatasetMapper
from forgery_d2.evaluation.evaluator import ForgeryEvaluator

from . import freeze
from .hooks import (
    BestCheckpointer,
    FeatureSeparability,
    FreezeSchedule,
    TrainingCurves,
    ValidationLoss,
)
from .inputs import build_mapper

__all__ = ["ForgeryTrainer", "TrainingSubsetError", "select_training_subset", "build_fixed_inputs"]

logger = logging.getLogger(__name__)


class TrainingSubsetError(ValueError):
    """``FORGERY.DATA.TRAIN_SUBSET_IDS`` names images that are not in the training datasets."""


def select_training_subset(dataset_dicts: List[dict], num_images: int = 0, ids=(), seed: int = 0):
    """The images to train on: those whose ``case_id`` or ``image_id`` is in ``ids`` (all must
    exist), else ``num_images`` images in a fixed seeded order with forged images first (the
    stepwise recipe overfits 1 then 5 forged images), else all."""
    if ids:
        wanted = [str(i) for i in ids]
        by_id = {}
        for record in dataset_dicts:
            for key in ("image_id", "case_id"):
                if key in record:
                    by_id.setdefault(str(record[key]), []).append(record)
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise TrainingSubsetError(
                f"FORGERY.DATA.TRAIN_SUBSET_IDS: {missing} not in the training datasets "
                f"({len(dataset_dicts)} images; ids look like {sorted(by_id)[:3]})"
            )
        chosen = {id(r): r for i in wanted for r in by_id[i]}
        return list(chosen.values())
    if num_images <= 0 or num_images >= len(dataset_dicts):
        return list(dataset_dicts)
    order = np.random.default_rng(seed).permutation(len(dataset_dicts))
    forged_first = sorted(order, key=lambda i: 0 if dataset_dicts[i].get("annotations") else 1)
    return [dataset_dicts[i] for i in forged_first[:num_images]]


def build_fixed_inputs(cfg, dataset_name: str, num_images: int) -> List[dict]:
    """The first ``num_images`` of a dataset (forged and authentic alike, in its fixed order),
    mapped once with annotations and with the test-time resize only: the fixed inputs of the
    validation-loss and separability hooks."""
    dicts = DatasetCatalog.get(dataset_name)[:num_images]
    mapper = build_mapper(cfg, is_train=True, augmentations=ForgeryDatasetMapper.test_resize(cfg))
    return [mapper(d) for d in dicts]


class ForgeryTrainer(DefaultTrainer):
    """DefaultTrainer for forgery detection:

    - data: :class:`~forgery_d2.data.mapper.ForgeryDatasetMapper` for training and test, training
      subsets (``FORGERY.DATA.TRAIN_SUBSET*``);
    - evaluation: ``forgery_d2.evaluation.evaluator.ForgeryEvaluator`` (TEST.EVAL_PERIOD); datasets
      whose metadata ``evaluator_type`` is "coco" (the figure-layout sets) get detectron2's
      ``COCOEvaluator`` (box AP, official pycocotools implementation);
    - hooks: staged freezing, validation loss, ROI feature separability, best checkpoint by
      ``FORGERY.HOOKS.BEST_METRIC``, training curves (forgery_d2.engine.hooks);
    - optimizer: detectron2's default (SGD with momentum, SOLVER.*) or AdamW
      (``FORGERY.SOLVER.OPTIMIZER``), built once over all parameters, so the freeze schedule never
      rebuilds it.
    """

    def __init__(self, cfg):
        # DefaultTrainer.__init__, except that DDP must tolerate parameters without gradients when
        # a freeze schedule is used (find_unused_parameters).
        TrainerBase.__init__(self)
        for name in ("detectron2", "forgery_d2"):  # setup_logger was not called (in-process use)
            if not logging.getLogger(name).isEnabledFor(logging.INFO):
                setup_logger(name=name)
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())

        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)

        ddp_kwargs = {"broadcast_buffers": False}
        if cfg.FORGERY.FREEZE.STAGES and comm.get_world_size() > 1:
            ddp_kwargs["find_unused_parameters"] = True
        if str(cfg.MODEL.DEVICE).startswith("cpu"):
            # detectron2's create_ddp_model passes device_ids=[local rank], which DDP refuses for a
            # CPU module (processes on the gloo backend, see forgery_d2.engine.launch).
            ddp_kwargs["device_ids"] = None
        model = create_ddp_model(model, **ddp_kwargs)
        self._trainer = (AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer)(
            model, data_loader, optimizer
        )

        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = DetectionCheckpointer(
            model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self)
        )
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    # detectron2 v0.6's DefaultTrainer checkpoints only the iteration and hook states, so --resume
    # silently restarted SGD momentum (and AMP's grad scaler). Upstream main saves the inner
    # trainer's state under "_trainer"; so do we (same layout, so checkpoints are interchangeable).
    def state_dict(self):
        ret = super().state_dict()
        ret["_trainer"] = self._trainer.state_dict()
        return ret

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        if "_trainer" in state_dict:
            self._trainer.load_state_dict(state_dict["_trainer"])
        else:
            logger.warning(
                "The checkpoint has no optimizer state (older detectron2 trainer): SGD momentum restarts"
            )

    @classmethod
    def build_optimizer(cls, cfg, model):
        """detectron2's SGD (``FORGERY.SOLVER.OPTIMIZER: SGD``), or AdamW with the same parameter
        groups (no weight decay on norms and biases), learning rate and gradient clipping."""
        name = cfg.FORGERY.SOLVER.OPTIMIZER
        if name == "SGD":
            return super().build_optimizer(cfg, model)
        if name != "AdamW":
            raise ValueError(f"FORGERY.SOLVER.OPTIMIZER must be 'SGD' or 'AdamW', got {name!r}")
        params = get_default_optimizer_params(
            model,
            base_lr=cfg.SOLVER.BASE_LR,
            weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
            bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
            weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
        )
        return maybe_add_gradient_clipping(cfg, torch.optim.AdamW)(
            params, lr=cfg.SOLVER.BASE_LR, weight_decay=cfg.SOLVER.WEIGHT_DECAY
        )

    @classmethod
    def build_train_loader(cls, cfg):
        dataset = get_detection_dataset_dicts(
            cfg.DATASETS.TRAIN,
            filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS,
            proposal_files=cfg.DATASETS.PROPOSAL_FILES_TRAIN if cfg.MODEL.LOAD_PROPOSALS else None,
        )
        data_cfg = cfg.FORGERY.DATA
        subset = select_training_subset(
            dataset, data_cfg.TRAIN_SUBSET, data_cfg.TRAIN_SUBSET_IDS, data_cfg.TRAIN_SUBSET_SEED
        )
        if len(subset) != len(dataset):
            logger.info(
                f"Training on {len(subset)} of {len(dataset)} images: "
                + ", ".join(str(r.get("image_id", r["file_name"])) for r in subset[:10])
            )
        return build_detection_train_loader(
            cfg, mapper=build_mapper(cfg, is_train=True), dataset=subset
        )

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_detection_test_loader(
            cfg, dataset_name, mapper=build_mapper(cfg, is_train=False)
        )

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        if MetadataCatalog.get(dataset_name).get("evaluator_type") == "coco":
            tasks = ("bbox", "segm") if cfg.MODEL.MASK_ON else ("bbox",)
            return COCOEvaluator(
                dataset_name,
                tasks,
                output_dir=output_folder,
                use_fast_impl=False,
                max_dets_per_image=cfg.TEST.DETECTIONS_PER_IMAGE,
            )
        return ForgeryEvaluator(dataset_name, cfg, output_dir=output_folder)

    def build_hooks(self):
        """DefaultTrainer's hooks (timer, LR schedule, PreciseBN, periodic checkpoints, evaluation,
        writers every ``FORGERY.HOOKS.LOG_PERIOD``) plus forgery_d2's, in execution order."""
        cfg = self.cfg
        hooks_cfg = cfg.FORGERY.HOOKS
        main_process = comm.is_main_process()
        ret = [d2_hooks.IterationTimer(), d2_hooks.LRScheduler()]

        if cfg.FORGERY.FREEZE.STAGES:
            parts = freeze.part_patterns(self.model, cfg.FORGERY.FREEZE.EXTRA_PARTS)
            schedule = freeze.parse_schedule(cfg.FORGERY.FREEZE.STAGES, parts)
            for (
                stage
            ) in schedule:  # validate every stage against this model now, not at iteration 10k
                freeze.trainable_parameter_names(self.model, stage, parts)
            # The model as built (no stage applied yet): what FREEZE_AT froze stays frozen.
            ret.append(FreezeSchedule(schedule, parts, freeze.frozen_parameter_names(self.model)))

        if cfg.TEST.PRECISE_BN.ENABLED and get_bn_modules(self.model):
            loader_cfg = cfg.clone()
            loader_cfg.defrost()
            loader_cfg.DATALOADER.NUM_WORKERS = 0
            ret.append(
                d2_hooks.PreciseBN(
                    cfg.TEST.EVAL_PERIOD,
                    self.model,
                    self.build_train_loader(loader_cfg),
                    cfg.TEST.PRECISE_BN.NUM_ITER,
                )
            )
        if main_process:
            ret.append(
                d2_hooks.PeriodicCheckpointer(self.checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD)
            )

        def test_and_save_results():
            self._last_eval_results = self.test(self.cfg, self.model)
            return self._last_eval_results

        # After the checkpointer: if evaluation fails, the checkpoint is there to debug it.
        ret.append(d2_hooks.EvalHook(cfg.TEST.EVAL_PERIOD, test_and_save_results))
        if main_process and hooks_cfg.BEST_METRIC and cfg.DATASETS.TEST:
            ret.append(
                BestCheckpointer(
                    cfg.TEST.EVAL_PERIOD,
                    self.model,
                    cfg.OUTPUT_DIR,
                    hooks_cfg.BEST_METRIC,
                    hooks_cfg.BEST_MODE,
                )
            )

        batch = max(1, cfg.SOLVER.IMS_PER_BATCH // comm.get_world_size())
        seed = max(cfg.SEED, 0)
        val = hooks_cfg.VAL_LOSS
        if val.PERIOD > 0 and main_process:
            dataset = val.DATASET or _first_test_dataset(cfg, "FORGERY.HOOKS.VAL_LOSS")
            inputs = build_fixed_inputs(cfg, dataset, val.NUM_IMAGES)
            ret.append(ValidationLoss(val.PERIOD, inputs, batch, seed))
        sep = hooks_cfg.SEPARABILITY
        if sep.PERIOD > 0 and main_process:
            dataset = sep.DATASET or _first_test_dataset(cfg, "FORGERY.HOOKS.SEPARABILITY")
            inputs = build_fixed_inputs(cfg, dataset, sep.NUM_IMAGES)
            ret.append(
                FeatureSeparability(
                    sep.PERIOD, inputs, sep.NEG_BOXES_PER_IMAGE, sep.THRESHOLD, batch, seed
                )
            )

        if main_process:
            # Writers last: they flush what the hooks above put to the EventStorage.
            ret.append(d2_hooks.PeriodicWriter(self.build_writers(), period=hooks_cfg.LOG_PERIOD))
            if hooks_cfg.PLOT_CURVES:
                ret.append(TrainingCurves(cfg.OUTPUT_DIR))
        return ret


def _first_test_dataset(cfg, section):
    if not cfg.DATASETS.TEST:
        raise ValueError(f"{section}.PERIOD > 0 needs {section}.DATASET or DATASETS.TEST")
    return cfg.DATASETS.TEST[0]
