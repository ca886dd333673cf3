#!/usr/bin/env python
"""Train or evaluate a forgery_d2 model: detectron2's standard command line.

    python tools/train_net.py --config-file configs/quick/forgery_R_18_FPN_quick.yaml
    python tools/train_net.py --config-file CFG --resume                 # continue OUTPUT_DIR
    python tools/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS out/model_final.pth
    python tools/train_net.py --config-file CFG --num-gpus 8 SOLVER.IMS_PER_BATCH 16

The logic lives in forgery_d2.engine (setup, ForgeryTrainer); see docs/TRAINING.md.
"""

import forgery_d2  # noqa: F401  (first: detectron2 build shims, dataset and model registration)
from detectron2.engine import default_argument_parser, launch

from forgery_d2.engine.runner import main, preflight

if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    print("Command Line Args:", args)
    preflight(args)  # a bad config or dataset ends here in one line (exit 2), before any worker
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
