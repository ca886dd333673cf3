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
from forgery_d2.competition import AUTHENTIC, SubmissionError, read_solution_csv, read_submission_csv  # noqa: E402
from forgery_d2.evaluation.metric import mean_score, score_per_image  # noqa: E402
from forgery_d2.competition.rle import runs_to_rle  # noqa: E402


def baseline_submissions(solution):
    """The two trivial submissions every model must beat."""
    import json

    import numpy as np
    import pandas as pd

    full = []
    for shape in solution["shape"]:
        h, w = json.loads(shape)
        full.append(json.dumps(runs_to_rle(np.array([[0, h * w]])), separators=(", ", ": ")))
    ids = solution["case_id"].tolist()
    return {
        "all authentic": pd.DataFrame({"case_id": ids, "annotation": [AUTHENTIC] * len(ids)}),
        "full-image mask": pd.DataFrame({"case_id": ids, "annotation": full}),
    }


def summary_row(per_image):
    truth = per_image["annotation"].str.strip() != AUTHENTIC
    called = per_image["prediction"].str.strip() != AUTHENTIC
    tp = int((truth & called).sum())
    return {
        "oF1": mean_score(per_image["oF1"]),
        "oF1 forged": mean_score(per_image.loc[truth, "oF1"]) if truth.any() else float("nan"),
        "oF1 authentic": mean_score(per_image.loc[~truth, "oF1"]) if (~truth).any() else float("nan"),
        "image acc": float((truth == called).mean()),
        "image precision": tp / called.sum() if called.any() else 0.0,
        "image recall": tp / truth.sum() if truth.any() else 0.0,
    }


def compare(solution, submissions):
    """{name: submission DataFrame} -> list of (name, summary dict), baselines first."""
    named = dict(baseline_submissions(solution))
    named.update(submissions)
    return [(name, summary_row(score_per_image(solution, sub))) for name, sub in named.items()]


def format_table(rows, n_images):
    from tabulate import tabulate

    headers = ["submission"] + list(rows[0][1])
    body = [[name] + [f"{v:.4f}" for v in vals.values()] for name, vals in rows]
    return f"{n_images} images\n" + tabulate(body, headers=headers, tablefmt="github")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
