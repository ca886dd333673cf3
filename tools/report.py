#!/usr/bin/env python
"""Write the screening report (a folder with index.html) of saved predictions.

  python tools/report.py --predictions out/predictions.jsonl --output out/report \
      [--gt-masks train_masks/ | --solution solution.csv] [--images-root DIR]

``predictions.jsonl`` is what tools/predict.py saves beside the submission (one figure per line).
Open ``out/report/index.html`` in a browser (it needs no network): a summary, one card per flagged
figure (best score first) with the source and its copy drawn in two colours, the correspondences,
the transform in words and the evidence; a score filter; the authentic and unreadable figures.
With ground truth: the competition's oF1, image precision/recall, false alarms, missed forgeries.

Invalid input (a malformed record, unusable ground truth): a one-line error naming the file and
line, exit code 2.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)

EXIT_INVALID = 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictions", required=True, help="predictions.jsonl written by predict")
    parser.add_argument("--output", required=True, help="folder to write the report into")
    truth = parser.add_mutually_exclusive_group()
    truth.add_argument(
        "--gt-masks",
        help="folder of ground-truth <case_id>.npy masks (a figure without one is authentic)",
    )
    truth.add_argument("--solution", help="solution CSV (case_id,annotation,shape)")
    parser.add_argument(
        "--images-root",
        help="folder the records' file_name are relative to "
        "(default: as written, then beside the predictions)",
    )
    parser.add_argument("--title", default="Duplicated-region screening report")
    parser.add_argument("--thumb-size", type=int, default=240, help="thumbnail longest side, px")
    parser.add_argument("--overlay-size", type=int, default=960, help="overlay longest side, px")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg", help="picture format")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.thumb_size < 16 or args.overlay_size < 16:
        parser.error("--thumb-size and --overlay-size must be >= 16")
    return args


def main(argv=None):
    args = parse_args(argv)
    from tabulate import tabulate

    from forgery_d2.data.io import DataError
    from forgery_d2.competition.rle import RLEError
    from forgery_d2.competition.submission import SubmissionError
    from forgery_d2.report import PredictionsError, write_report
    from forgery_d2.report.writer import summary_rows

    try:
        result = write_report(
            args.predictions,
            args.output,
            images_root=args.images_root,
            gt_masks=args.gt_masks,
            solution=args.solution,
            title=args.title,
            thumb_size=args.thumb_size,
            overlay_size=args.overlay_size,
            image_format=args.format,
            progress=not args.quiet,
        )
    except (PredictionsError, SubmissionError, DataError, RLEError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_INVALID)
    unscreened = result.metrics.get("solution_rows_without_prediction", 0)
    print(
        tabulate(summary_rows(result.metrics, unscreened), tablefmt="github", headers=["", "value"])
    )
    if result.num_not_drawn:
        print(
            f"warning: {result.num_not_drawn} flagged figure(s) could not be drawn "
            "(their cards say why)",
            file=sys.stderr,
        )
    print(f"wrote {result.index} ({result.num_cards} flagged figure cards)")
    return result


if __name__ == "__main__":
    main()
