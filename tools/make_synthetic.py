#!/usr/bin/env python
"""Write a synthetic copy-move forgery dataset in the Kaggle competition's layout.

    python tools/make_synthetic.py --num-images 1000 --num-test 200 --seed 0
    python tools/make_synthetic.py --output datasets/my_synth --source-dir ~/my_figures \
        --kind-probs natural=0.2,blot=0.3,figure=0.3,folder=0.2

Layout under --output (default $FORGERY_DATASETS/synthetic): train_images/{authentic,forged},
train_masks, test_images, test_masks, solution.csv (case_id,annotation,shape), cases.jsonl.
The same --seed gives byte-identical files.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
from forgery_d2.data.synthetic.copy_move import CopyMoveOptions, ForgeryPlacementError  # noqa: E402
from forgery_d2.data.synthetic.generator import SyntheticOptions, generate_dataset  # noqa: E402
from forgery_d2.data.synthetic.sources import SourceOptions  # noqa: E402


def parse_weights(text):
    """'a=0.3,b=0.7' -> {'a': 0.3, 'b': 0.7}."""
    weights = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(f"expected name=weight pairs separated by commas, got {item!r}")
    return weights


def fraction(text):
    """A float in [0, 1] (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {text!r}")
    return value


def build_parser():
    default_root = os.path.join(os.environ.get("FORGERY_DATASETS", "datasets"), "synthetic")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default=default_root, help=f"dataset root (default: {default_root})")
    p.add_argument("--num-images", type=int, default=1000, help="train cases (authentic + forged pairs)")
    p.add_argument("--num-test", type=int, default=200, help="held-out test images (about half forged)")
    p.add_argument("--seed", type=int, default=0, help="the same seed writes byte-identical files")
    p.add_argument("--min-size", type=int, default=256, help="min long side of an image, px")
    p.add_argument("--max-size", type=int, default=768, help="max long side, px (5%% of images are up to 2x larger)")
    p.add_argument("--source-dir", default=None, help="folder of your own authentic images to forge (any format read_image reads)")
    p.add_argument("--kind-probs", type=parse_weights, default=None,
                   help="source mix, e.g. natural=0.3,blot=0.35,figure=0.35,folder=0.3 (folder needs --source-dir)")
    p.add_argument("--color-modes", type=parse_weights, default=None, help="output colour modes, e.g. RGB=0.55,L=0.35,RGBA=0.1")
    p.add_argument("--test-forged-fraction", type=fraction, default=0.5,
                   help="share of forged test images, in [0, 1]")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4), help="worker processes (1 = no multiprocessing)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    sources = SourceOptions(min_size=args.min_size, max_size=args.max_size, source_dir=args.source_dir)
    if args.kind_probs is not None:
        sources.kind_probs = args.kind_probs
    if args.color_modes is not None:
        sources.color_mode_probs = args.color_modes
    options = SyntheticOptions(sources=sources, forgery=CopyMoveOptions(), test_forged_fraction=args.test_forged_fraction)
    start = time.perf_counter()
    try:
        summary = generate_dataset(args.output, args.num_images, args.num_test, args.seed, options,
                                   workers=args.workers, overwrite=args.overwrite, progress=not args.no_progress)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"make_synthetic.py: error: {e}", file=sys.stderr)
        return 2
    except ForgeryPlacementError as e:
        print(f"make_synthetic.py: error: {e}: the source images are too small or too flat for a "
              "visible copy-move (check --source-dir / --kind-probs / --min-size)", file=sys.stderr)
        return 2
    summary["seconds"] = round(time.perf_counter() - start, 1)
    summary["output"] = os.path.abspath(args.output)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
