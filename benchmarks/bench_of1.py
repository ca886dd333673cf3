#!/usr/bin/env python
"""Benchmark: forgery_d2's oF1 scorer vs a plain per-image reference, on the same data.

  OMP_NUM_THREADS=1 python benchmarks/bench_of1.py [--images 10000] [--height 700] [--width 1000]

Builds a realistic solution/submission pair in memory: mixed authentic / forged images (1-3
ground-truth instances each: blob-like regions of 0.2-8% of the image), predictions that are
noisy, shifted, missing, extra or ``authentic``. Scores it with

- the reference: the straightforward implementation of the competition's scorer (decode every RLE
  to a full mask with a per-run loop, per-pair F1 with boolean sums, Hungarian, penalty), and
- ``forgery_d2.evaluation.metric.score`` (validation + F1 from RLE runs, no decoding),

asserts both scores are identical (bit for bit), and prints both times and their ratio.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import scipy.optimize

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---- the reference: a plain transcription of the competition's scoring semantics
# -------------------
def reference_rle_decode(rle_text, shape):
    values = json.loads(rle_text)
    starts, lengths = (
        np.asarray(values[0::2], dtype=np.int64) - 1,
        np.asarray(values[1::2], dtype=np.int64),
    )
    if sorted(starts.tolist()) != starts.tolist():
        raise ValueError("Submitted values must be in ascending order.")
    flat = np.zeros(shape[0] * shape[1], dtype=bool)
    for lo, length in zip(starts, lengths):
        flat[lo : lo + length] = True
    return flat.reshape(shape, order="F")


def reference_f1(pred, gt):
    pred, gt = pred.flatten(), gt.flatten()
    tp = np.sum((pred == 1) & (gt == 1))
    fp = np.sum((pred == 1) & (gt == 0))
    fn = np.sum((pred == 0) & (gt == 1))
    precision = tp / (tp + fp) if (tp + fp) > 0 else 0
    recall = tp / (tp + fn) if (tp + fn) > 0 else 0
    return 2 * (precision * recall) / (precision + recall) if (precision + recall) > 0 else 0


def reference_image_score(label, prediction, shape_text):
    if label == "authentic" or prediction == "authentic":
        return float(label == prediction)
    shape = json.loads(shape_text)
    gts = [reference_rle_decode(x, shape) for x in label.split(";")]
    preds = [reference_rle_decode(x, shape) for x in prediction.split(";")]
    f1 = np.zeros((len(preds), len(gts)))
    for i, p in enumerate(preds):
        for j, g in enumerate(gts):
            f1[i, j] = reference_f1(p, g)
    if f1.shape[0] < len(gts):
        f1 = np.vstack((f1, np.zeros((len(gts) - len(f1), len(gts)))))
    rows, cols = scipy.optimize.linear_sum_assignment(-f1)
    return np.mean(f1[rows, cols]) * (len(gts) / max(len(preds), len(gts)))


def reference_score(solution, submission):
    merged = solution.merge(
        submission.rename(columns={"annotation": "prediction"}), on="case_id", how="left"
    )
    scores = [
        reference_image_score(truth, p, s)
        for truth, p, s in zip(merged["annotation"], merged["prediction"], merged["shape"])
    ]
    return float(np.mean(pd.Series(scores, dtype=float)))


# ---- realistic data ------------------------------------------------------------------------------
def _blob(rng, h, w):
    """A blob-like region (union of a few overlapping ellipses) of 0.2-8% of the image."""
    mask = np.zeros((h, w), dtype=bool)
    area = rng.uniform(0.002, 0.08) * h * w
    cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
    yy, xx = np.ogrid[:h, :w]
    for _ in range(rng.integers(1, 4)):
        ry = np.sqrt(area / np.pi) * rng.uniform(0.5, 1.5)
        rx = area / (np.pi * ry) * rng.uniform(0.7, 1.3)
        oy, ox = cy + rng.normal(0, ry / 2), cx + rng.normal(0, rx / 2)
        mask |= ((yy - oy) / ry) ** 2 + ((xx - ox) / rx) ** 2 <= 1
    return mask


def make_data(n_images, h, w, seed=0):
    from forgery_d2.competition.rle import encode_annotation

    rng = np.random.default_rng(seed)
    solution, submission = [], []
    shape = json.dumps([h, w])
    for i in range(n_images):
        case_id = str(i)
        forged = rng.random() < 0.55
        if forged:
            gts = [_blob(rng, h, w) for _ in range(rng.choice([1, 2, 3], p=[0.68, 0.26, 0.06]))]
            label = encode_annotation(gts)
        else:
            gts, label = [], "authentic"
        r = rng.random()
        if r < 0.3:
            prediction = "authentic"
        elif forged:
            preds = []
            for g in gts:
                if rng.random() < 0.8:
                    dy, dx = rng.integers(-8, 9, size=2)
                    preds.append(np.roll(g, (dy, dx), axis=(0, 1)) ^ (rng.random(g.shape) < 0.002))
            preds += [_blob(rng, h, w) for _ in range(rng.integers(0, 2))]  # extras
            prediction = encode_annotation(preds)
        else:
            prediction = encode_annotation([_blob(rng, h, w) for _ in range(rng.integers(1, 3))])
        solution.append((case_id, label, shape))
        submission.append((case_id, prediction))
    return (
        pd.DataFrame(solution, columns=["case_id", "annotation", "shape"]),
        pd.DataFrame(submission, columns=["case_id", "annotation"]),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--height", type=int, default=700)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import forgery_d2  # noqa: F401
    from forgery_d2.evaluation.metric import score

    t0 = time.perf_counter()
    solution, submission = make_data(args.images, args.height, args.width, args.seed)
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = score(solution, submission)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = reference_score(solution, submission)
    t_ref = time.perf_counter() - t0
    assert ours == reference, f"scores differ: forgery_d2 {ours!r} vs reference {reference!r}"
    n_forged = int((solution["annotation"] != "authentic").sum())
    print(
        f"{args.images} images of {args.width}x{args.height} ({n_forged} forged), data built in {t_data:.1f}s"
    )
    print(f"reference (decode + per-pair loops): {t_ref:8.2f} s  score {reference!r}")
    print(f"forgery_d2.evaluation.metric.score : {t_ours:8.2f} s  score {ours!r}")
    print(f"identical scores; speed-up x{t_ref / t_ours:.1f}")


if __name__ == "__main__":
    main()
