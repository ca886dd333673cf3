#!/usr/bin/env python
"""Write a synthetic copy-move forgery dataset in the Kaggle competition's layout.

Two styles:

* ``figures`` (default): realistic compound figures (blots with lane headers, gels, micrograph
  grids with scale bars, plots, plates; 1-16 panels) forged the way papers are (panel reuse,
  partial reuse, cross- and intra-panel region copies), plus layout_{train,test}.json (COCO boxes
  of panels, text and marks). See forgery_d2.data.synthetic.figures.
* ``legacy``: the original generator (skimage crops, blots, simple figures, random copy-moves).

    python tools/make_synthetic.py --num-images 1000 --num-test 200 --seed 0
    python tools/make_synthetic.py --themes blots=1,micrographs=1 --jpeg-prob 0.5
    python tools/make_synthetic.py --style legacy --source-dir ~/my_figures \
        --kind-probs natural=0.2,blot=0.3,figure=0.3,folder=0.2

Layout under --output (default $FORGERY_DATASETS/figures, or $FORGERY_DATASETS/synthetic for
legacy): train_images/{authentic,forged}, train_masks, test_images, test_masks, solution.csv
(case_id,annotation,shape), sample_submission.csv, cases.jsonl (one record per image), and for
figures layout_train.json / layout_test.json. The same --seed gives byte-identical files whatever
--workers.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)
from forgery_d2.data.synthetic.copy_move import CopyMoveOptions, ForgeryPlacementError  # noqa: E402
from forgery_d2.data.synthetic.figures import (  # noqa: E402
    FigureGenerationError,
    FigureOptions,
    LayoutError,
    generate_figures_dataset,
)
from forgery_d2.data.synthetic.generator import SyntheticOptions, generate_dataset  # noqa: E402
from forgery_d2.data.synthetic.sources import SourceOptions  # noqa: E402

STYLES = ("figures", "legacy")
DEFAULT_SIZES = {"figures": (300, 2500), "legacy": (256, 768)}  # min / max long side, px
LEGACY_ONLY = ("source_dir", "kind_probs")
FIGURES_ONLY = ("themes", "jpeg_prob", "median_size")


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
            raise argparse.ArgumentTypeError(
                f"expected name=weight pairs separated by commas, got {item!r}"
            )
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


def default_output(style):
    """$FORGERY_DATASETS/figures (figures) or $FORGERY_DATASETS/synthetic (legacy)."""
    return os.path.join(
        os.environ.get("FORGERY_DATASETS", "datasets"),
        "figures" if style == "figures" else "synthetic",
    )


def build_parser():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--style", choices=STYLES, default="figures", help="figures (default) or legacy")
    p.add_argument(
        "--output",
        default=None,
        help=f"dataset root (default: {default_output('figures')}, "
        f"legacy: {default_output('legacy')})",
    )
    p.add_argument(
        "--num-images", type=int, default=1000, help="train cases (authentic + forged pairs)"
    )
    p.add_argument(
        "--num-test", type=int, default=200, help="held-out test images (about half forged)"
    )
    p.add_argument("--seed", type=int, default=0, help="the same seed writes byte-identical files")
    p.add_argument(
        "--min-size",
        type=int,
        default=None,
        help="min long side of an image, px (figures 300, legacy 256)",
    )
    p.add_argument(
        "--max-size", type=int, default=None, help="max long side, px (figures 2500, legacy 768)"
    )
    p.add_argument(
        "--color-modes",
        type=parse_weights,
        default=None,
        help="output colour modes, e.g. RGB=0.6,L=0.25,RGBA=0.15",
    )
    p.add_argument(
        "--test-forged-fraction",
        type=fraction,
        default=0.5,
        help="share of forged test images, in [0, 1]",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="worker processes (1 = no multiprocessing)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing dataset in --output"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    figures = p.add_argument_group("figures style")
    figures.add_argument(
        "--themes",
        type=parse_weights,
        default=None,
        help="figure themes, e.g. blots=0.3,micrographs=0.25,gels=0.07,plates=0.06,mixed=0.24,"
        "single=0.08",
    )
    figures.add_argument(
        "--median-size", type=int, default=None, help="median long side, px (default 800)"
    )
    figures.add_argument(
        "--jpeg-prob",
        type=float,
        default=None,
        help="share of figures JPEG-recompressed (default 0.3)",
    )
    legacy = p.add_argument_group("legacy style")
    legacy.add_argument(
        "--source-dir",
        default=None,
        help="folder of your own authentic images to forge (any format read_image reads)",
    )
    legacy.add_argument(
        "--kind-probs",
        type=parse_weights,
        default=None,
        help="source mix, e.g. natural=0.3,blot=0.35,figure=0.35,folder=0.3 "
        "(folder needs --source-dir)",
    )
    return p


def _figures_options(args, min_size, max_size):
    options = FigureOptions(test_forged_fraction=args.test_forged_fraction)
    options.layout.min_size, options.layout.max_size = min_size, max_size
    if args.median_size is not None:
        options.layout.median_size = args.median_size
    if args.themes is not None:
        options.layout.theme_probs = args.themes
    if args.color_modes is not None:
        options.color_mode_probs = args.color_modes
    if args.jpeg_prob is not None:
        options.jpeg_prob = args.jpeg_prob
    return options


def _legacy_options(args, min_size, max_size):
    sources = SourceOptions(min_size=min_size, max_size=max_size, source_dir=args.source_dir)
    if args.kind_probs is not None:
        sources.kind_probs = args.kind_probs
    if args.color_modes is not None:
        sources.color_mode_probs = args.color_modes
    return SyntheticOptions(
        sources=sources, forgery=CopyMoveOptions(), test_forged_fraction=args.test_forged_fraction
    )


def _error(message):
    print(f"make_synthetic.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None):
    args = build_parser().parse_args(argv)
    wrong = [
        name
        for name in (LEGACY_ONLY if args.style == "figures" else FIGURES_ONLY)
        if getattr(args, name) is not None
    ]
    if wrong:
        other = "legacy" if args.style == "figures" else "figures"
        flags = ", ".join("--" + n.replace("_", "-") for n in wrong)
        return _error(f"{flags} only apply to --style {other} (got --style {args.style})")
    min_size = args.min_size if args.min_size is not None else DEFAULT_SIZES[args.style][0]
    max_size = args.max_size if args.max_size is not None else DEFAULT_SIZES[args.style][1]
    output = args.output or default_output(args.style)
    start = time.perf_counter()
    if args.style == "figures":
        options = _figures_options(args, min_size, max_size)
        try:  # bad options: one line (an error raised while generating is a bug: traceback)
            options.validate()
            if args.num_images < 0 or args.num_test < 0:
                raise ValueError(
                    "--num-images and --num-test must be >= 0, "
                    f"got {args.num_images}, {args.num_test}"
                )
        except ValueError as e:
            return _error(e)
        try:
            summary = generate_figures_dataset(
                output,
                args.num_images,
                args.num_test,
                args.seed,
                options,
                workers=args.workers,
                overwrite=args.overwrite,
                progress=not args.no_progress,
            )
        except (FileExistsError, LayoutError, FigureGenerationError) as e:  # sizes too small
            return _error(e)
    else:
        try:
            summary = generate_dataset(
                output,
                args.num_images,
                args.num_test,
                args.seed,
                _legacy_options(args, min_size, max_size),
                workers=args.workers,
                overwrite=args.overwrite,
                progress=not args.no_progress,
            )
        except (ValueError, FileExistsError, FileNotFoundError) as e:
            return _error(e)
        except ForgeryPlacementError as e:
            return _error(
                f"{e}: the source images are too small or too flat for a visible copy-move "
                "(check --source-dir / --kind-probs / --min-size)"
            )
    summary["style"] = args.style
    summary["seconds"] = round(time.perf_counter() - start, 1)
    summary["output"] = os.path.abspath(output)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
