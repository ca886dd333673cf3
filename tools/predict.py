#!/usr/bin/env python
"""Screen a folder of figures: a competition submission plus one JSON record per figure.

  python tools/predict.py --config-file configs/forgery_R_50_FPN.yaml --input test_images/ \
      --output submission.csv [--decision decision.yaml] [--vis vis/] [--gt-masks train_masks/] \
      [--num-gpus N] [--resume] MODEL.WEIGHTS model_final.pth

Every image of the folder (png/jpg/tif/bmp/webp; case_id = file stem) gets one row: ``authentic``
or its instances' RLEs at the image's original resolution, after the decision rule
(``cfg.FORGERY.DECISION``, e.g. the fragment written by ``tools/eval_oF1.py --sweep``).

Records: each figure's result is appended, as soon as it is done, to ``--records`` (default
``<output>.predictions.jsonl``; see forgery_d2/engine/predictions.py for the record format, which
the analyst's report reads). The run can be killed at any moment (even SIGKILL) and continued with
``--resume``: finished figures are not redone, none is lost or written twice, and the submission is
byte-identical to an uninterrupted run's. The submission and the records file are written, in the
folder's sorted order, once every figure has a record. Existing records without ``--resume`` stop
the tool; ``--overwrite`` deletes them and starts over.

Processes: ``--num-gpus N`` runs N processes per machine, each screening a disjoint shard (figure
i goes to process i mod N x machines): with CUDA through detectron2's ``launch`` (one GPU each,
``--num-machines`` / ``--machine-rank`` / ``--dist-url`` as in detectron2); without a GPU, N CPU
worker processes started by torch.multiprocessing with the gloo backend (detectron2 v0.6's launch
needs CUDA; see forgery_d2/engine/launch.py). ``torchrun --nproc-per-node N tools/predict.py ...``
works too.

Unreadable images: the submission must still have a row for every image (the scorer rejects a
submission with a missing case_id), so an image that cannot be read is logged with the file and
the reason, gets ``authentic`` (record status ``unreadable``), and is listed in the final summary;
with ``--strict`` the tool instead stops with exit code 2 and writes no submission.

``--report DIR`` writes the analyst's screening report of the run into DIR once it is done
(``index.html``: flagged figures as cards with the source region, its copy and the transform
between them; see docs/REPORT.md and ``tools/report.py``, which writes it from saved records);
with ``--gt-masks DIR`` the report shows the ground truth and its oF1.

``--vis DIR`` writes one PNG per image: predicted masks, boxes and scores in red, the image verdict,
and with ``--gt-masks DIR`` the ground-truth channels of ``DIR/<case_id>.npy`` in green.
Invalid input: a one-line error and exit code 2, never a traceback.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
import torch.multiprocessing as mp  # noqa: E402

from forgery_d2.competition.submission import SubmissionError  # noqa: E402
from forgery_d2.config import ConfigError  # noqa: E402
from forgery_d2.data.io import DataError  # noqa: E402
from forgery_d2.engine.launch import launch  # noqa: E402
from forgery_d2.report import PredictionsError, write_report  # noqa: E402
from forgery_d2.engine.screening import (
    EXIT_INVALID,
    ScreeningError,
    ScreeningOptions,
    prepare_run,  # noqa: E402
    records_path_for,
    screen_worker,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, help="model config (YAML)")
    parser.add_argument("--input", required=True, help="folder of images")
    parser.add_argument("--output", required=True, help="submission CSV to write")
    parser.add_argument(
        "--records", help="per-figure records (JSON lines); default <output>.predictions.jsonl"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from its records"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="delete the records of an earlier run, start over"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also print forgery_d2's debug log lines"
    )
    parser.add_argument(
        "--decision", help="decision-rule YAML fragment (FORGERY.DECISION) merged after the config"
    )
    parser.add_argument("--vis", help="folder for overlay PNGs")
    parser.add_argument("--report", help="folder for the screening report (index.html) of the run")
    parser.add_argument(
        "--gt-masks", help="folder of <case_id>.npy ground-truth masks drawn on the overlays"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="figures per forward pass (default 1: each figure's result depends on that figure "
        "only, so a resumed run reproduces an uninterrupted one byte for byte; larger "
        "batches pad figures to a common size, which can change a network's output)",
    )
    parser.add_argument(
        "--num-workers", type=int, default=2, help="image-reading worker processes per process"
    )
    parser.add_argument(
        "--strict", action="store_true", help="stop (exit 2) on an unreadable image"
    )
    parser.add_argument(
        "--num-gpus",
        type=int,
        default=1,
        help="processes per machine: one per GPU; without a GPU, that many CPU processes",
    )
    parser.add_argument(
        "--num-machines", type=int, default=1, help="machines of a multi-machine run"
    )
    parser.add_argument(
        "--machine-rank", type=int, default=0, help="rank of this machine (0 .. machines - 1)"
    )
    parser.add_argument(
        "--dist-url",
        default="auto",
        help="rendezvous of the processes, e.g. tcp://HOST:PORT ('auto': a free local port)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error("--resume continues the records that --overwrite deletes: give one of them")
    for name in ("batch_size", "num_gpus", "num_machines"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.num_workers < 0:
        parser.error("--num-workers must be >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    options = ScreeningOptions(
        config_file=args.config_file,
        input_dir=args.input,
        output=args.output,
        records=args.records or records_path_for(args.output),
        opts=tuple(args.opts),
        decision=args.decision,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        strict=args.strict,
        resume=args.resume,
        overwrite=args.overwrite,
        vis=args.vis,
        gt_masks=args.gt_masks,
        verbose=args.verbose,
    )
    try:
        prepare_run(options)
        result = launch(
            screen_worker,
            args.num_gpus,
            num_machines=args.num_machines,
            machine_rank=args.machine_rank,
            dist_url=args.dist_url,
            args=(options,),
        )
        if args.report and args.machine_rank == 0:
            report = write_report(options.records, args.report, gt_masks=args.gt_masks)
            print(f"wrote the screening report {report.index}")
        return result
    except (DataError, ConfigError, SubmissionError, ScreeningError, PredictionsError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_INVALID)
    except mp.ProcessExitedException as e:  # a worker stopped; it printed its own one-line error
        sys.exit(e.exit_code if e.exit_code and e.exit_code > 0 else 1)


if __name__ == "__main__":
    main()
