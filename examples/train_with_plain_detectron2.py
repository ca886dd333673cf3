#!/usr/bin/env python
"""A detectron2 training script that is NOT part of forgery_d2: it uses only detectron2's own APIs
(get_cfg, DefaultTrainer, default_argument_parser) plus ``import forgery_d2``, which registers the
datasets (``forgery_synthetic_train`` ...) and model components (``ForgeryRCNN`` ...).

    python examples/train_with_plain_detectron2.py \
        --config-file configs/quick/forgery_R_18_FPN_quick.yaml SOLVER.MAX_ITER 100

This is how forgery_d2 plugs into an existing detectron2 codebase. (forgery_d2's own
tools/train_net.py adds its trainer, augmentations, evaluator and hooks on top.)
"""

import forgery_d2  # first: detectron2 build shims, dataset and model registration
import torch
from detectron2.config import get_cfg
from detectron2.engine import DefaultTrainer, default_argument_parser, default_setup, launch


def setup(args):
    cfg = get_cfg()
    forgery_d2.add_forgery_config(cfg)  # forgery_d2's YAMLs carry FORGERY.* keys
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    if not torch.cuda.is_available():
        cfg.MODEL.DEVICE = "cpu"
    cfg.TEST.EVAL_PERIOD = 0  # plain DefaultTrainer has no evaluator for this dataset type
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def main(args):
    trainer = DefaultTrainer(setup(args))
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
