#!/usr/bin/env python
"""Score submissions side by side against one solution, next to the trivial baselines.

    python tools/compare_submissions.py --solution datasets/synthetic/solution.csv \
        model=output/demo/submission.csv [matcher=other.csv ...] [--output table.md]

The baselines are built from the solution itself: ``all authentic`` (every row ``authentic``) and
``full-image mask`` (one mask covering the whole image on every row). Columns: oF1 (the
competition's score), oF1 on forged / authentic rows, and image-level accuracy / precision / recall
of the forged-vs-authentic call. Exit code 2 with a one-line error on invalid input.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401
from forgery_d2.competition import (
    AUTHENTIC,
    SubmissionError,
    read_solution_csv,
    read_submission_csv,
)  # noqa: E402
from forgery_d2.competition.rle import runs_to_rle  # noqa: E402
from forgery_d2.evaluation.evaluator import submission_records, summarize  # noqa: E402


def baseline_submissions(solution):
    """The two trivial submissions every model must beat."""
    import json

    import numpy as np
    import pandas as pd

    full = []
    for shape in solution["shape"]:
        if shape == AUTHENTIC:  # the scorer's docstring format: size unknown, any mask scores 0
            full.append("[1, 1]")
            continue
        h, w = json.loads(shape)
        full.append(json.dumps(runs_to_rle(np.array([[0, h * w]])), separators=(", ", ": ")))
    ids = solution["case_id"].tolist()
    return {
        "all authentic": pd.DataFrame({"case_id": ids, "annotation": [AUTHENTIC] * len(ids)}),
        "full-image mask": pd.DataFrame({"case_id": ids, "annotation": full}),
    }


# Columns of the comparison table: forgery_d2.evaluation.evaluator.summarize keys -> headers.
COLUMNS = {
    "oF1": "oF1",
    "oF1_forged": "oF1 forged",
    "oF1_authentic": "oF1 authentic",
    "false_alarm_rate": "false alarms (authentic)",
    "image_accuracy": "image acc",
    "image_precision": "image precision",
    "image_recall": "image recall",
}


def summary_row(solution, submission):
    metrics = summarize(submission_records(solution, submission))
    return {header: metrics[key] for key, header in COLUMNS.items()}


def compare(solution, submissions):
    """{name: submission DataFrame} -> list of (name, summary dict), baselines first."""
    named = dict(baseline_submissions(solution))
    named.update(submissions)
    return [(name, summary_row(solution, sub)) for name, sub in named.items()]


def format_table(rows, n_images):
    from tabulate import tabulate

    headers = ["submission"] + list(rows[0][1])
    body = [[name] + [f"{v:.4f}" for v in vals.values()] for name, vals in rows]
    return f"{n_images} images\n" + tabulate(body, headers=headers, tablefmt="github")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--solution", required=True, help="solution CSV: case_id,annotation,shape")
    parser.add_argument("submissions", nargs="*", metavar="NAME=CSV", help="submissions to compare")
    parser.add_argument("--output", help="also write the table (Markdown) here")
    args = parser.parse_args(argv)
    try:
        solution = read_solution_csv(args.solution)
        subs = {}
        for item in args.submissions:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise SubmissionError(f"expected NAME=CSV, got {item!r}")
            subs[name] = read_submission_csv(path)
        table = format_table(compare(solution, subs), len(solution))
    except (SubmissionError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
