#!/usr/bin/env python
"""Write a competition submission for a folder of images.

  python tools/predict.py --config-file configs/forgery_R_50_FPN.yaml --input test_images/ \
      --output submission.csv [--decision decision.yaml] [--vis vis/] [--gt-masks train_masks/] \
      [--batch-size 4] [--num-workers 2] MODEL.WEIGHTS model_final.pth

Every image of the folder (png/jpg/tif/bmp/webp; case_id = file stem) gets one row: ``authentic``
or its instances' RLEs at the image's original resolution, after the decision rule
(``cfg.FORGERY.DECISION``, e.g. the fragment written by ``tools/eval_oF1.py --sweep``).

Unreadable images: the submission must still have a row for every image (the scorer rejects a
submission with a missing case_id), so an image that cannot be read is logged with the file and
the reason, gets ``authentic``, and is listed again in the final summary; with ``--strict`` the tool
instead stops with exit code 2 and writes nothing.

``--vis DIR`` writes one PNG per image: predicted masks, boxes and scores in red, the image verdict,
and with ``--gt-masks DIR`` the ground-truth channels of ``DIR/<case_id>.npy`` in green.
"""
import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import forgery_d2  # noqa: E402,F401  (detectron2 build shims first)

EXIT_INVALID = 2
logger = logging.getLogger("forgery_d2.predict")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True, help="model config (YAML)")
    parser.add_argument("--input", required=True, help="folder of images")
    parser.add_argument("--output", required=True, help="submission CSV to write")
    parser.add_argument("--verbose", action="store_true", help="also print forgery_d2's debug log lines")
    parser.add_argument("--decision", help="decision-rule YAML fragment (FORGERY.DECISION) merged after the config")
    parser.add_argument("--vis", help="folder for overlay PNGs")
    parser.add_argument("--gt-masks", help="folder of <case_id>.npy ground-truth masks drawn on the overlays")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    parser.add_argument("--num-workers", type=int, default=2, help="image-reading worker processes")
    parser.add_argument("--strict", action="store_true", help="stop (exit 2) on an unreadable image")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    return args


class InvalidInput(Exception):
    pass


def _to_rgb(image, image_format):
    if image_format == "BGR":
        return image[..., ::-1]
    if image_format == "L":
        return image.repeat(3, axis=2)
    return image


def predict(args):
    import torch
    from tqdm import tqdm

    from detectron2.utils.logger import setup_logger

    from forgery_d2.competition.rle import AUTHENTIC
    from forgery_d2.competition.submission import write_submission_csv
    from forgery_d2.config import load_config
    from forgery_d2.data.io import list_images
    from forgery_d2.engine.predictor import BatchPredictor, ImageFolder
    from forgery_d2.evaluation.decision import DecisionRule

    # forgery_d2's debug lines (e.g. the matcher's per-image statistics) only with --verbose.
    setup_logger(name="forgery_d2").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    cfg = load_config(args.config_file, args.opts, overlays=[args.decision])
    rule = DecisionRule.from_config(cfg)
    paths = list_images(args.input)
    if not paths:
        raise InvalidInput(f"no image (.png/.jpg/.tif/...) in {args.input}")
    predictor = BatchPredictor(cfg)
    loader = torch.utils.data.DataLoader(ImageFolder(paths, cfg.INPUT.FORMAT), batch_size=args.batch_size,
                                         num_workers=args.num_workers, collate_fn=list)
    if args.vis:
        os.makedirs(args.vis, exist_ok=True)
    rows, failures, n_forged = [], [], 0
    progress = tqdm(total=len(paths), desc="predict", unit="img")
    for batch in loader:
        readable = [item for item in batch if "error" not in item]
        for item in batch:
            if "error" in item:
                if args.strict:
                    raise InvalidInput(item["error"])
                logger.error(f"unreadable image, written as '{AUTHENTIC}': {item['error']}")
                failures.append(item["file_name"])
        outputs = (predictor([item["image"] for item in readable], [item["file_name"] for item in readable])
                   if readable else [])
        decisions = {item["case_id"]: rule(out) for item, out in zip(readable, outputs)}
        for item in batch:
            decision = decisions.get(item["case_id"])
            rows.append((item["case_id"], decision.annotation if decision is not None else AUTHENTIC))
            n_forged += bool(decision is not None and decision.forged)
            if args.vis and decision is not None:
                _write_overlay(args, item, decision, cfg.INPUT.FORMAT)
        progress.update(len(batch))
    progress.close()
    write_submission_csv(rows, args.output)
    print(f"wrote {args.output}: {len(rows)} images, {n_forged} predicted forged, "
          f"{len(rows) - n_forged - len(failures)} authentic, {len(failures)} unreadable")
    for path in failures:
        print(f"  unreadable (written as authentic): {path}")
    return rows


def _write_overlay(args, item, decision, image_format):
    import cv2

    from forgery_d2.data.io import DataError, read_mask
    from forgery_d2.evaluation.visualize import draw_decision

    gt = None
    if args.gt_masks:
        path = os.path.join(args.gt_masks, item["case_id"] + ".npy")
        if os.path.exists(path):
            try:
                gt = read_mask(path, item["image"].shape[:2])
            except DataError as e:
                logger.warning(f"ground truth not drawn: {e}")
    overlay = draw_decision(_to_rgb(item["image"], image_format), decision, gt, title=item["case_id"])
    cv2.imwrite(os.path.join(args.vis, item["case_id"] + ".png"), overlay[..., ::-1])


def main(argv=None):
    args = parse_args(argv)
    from forgery_d2.data.io import DataError
    from forgery_d2.competition.submission import SubmissionError

    try:
        return predict(args)
    except (InvalidInput, DataError, SubmissionError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_INVALID)


if __name__ == "__main__":
    main()
