#!/usr/bin/env python
"""Write a registered forgery_d2 dataset as a COCO instances JSON file.

Example:
    python tools/convert_to_coco.py --dataset forgery_train --output out/forgery_train_coco.json

The file loads back with ``detectron2.data.datasets.register_coco_instances(name, {}, json, "")``
(pass ``--image-root`` to write file names relative to it instead of absolute).
"""

import argparse
import logging
import sys

import forgery_d2  # noqa: F401  (detectron2 build shims first)
from forgery_d2.data.builtin import add_datasets_root_argument, registered_names
from forgery_d2.data.coco_export import export_coco_json
from forgery_d2.data.io import DataError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dataset", required=True, help="registered dataset name, e.g. forgery_train"
    )
    parser.add_argument("--output", required=True, help="COCO JSON file to write")
    parser.add_argument(
        "--image-root", default=None, help="write file names relative to this folder"
    )
    add_datasets_root_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        registered_names([args.dataset], args.datasets_root)
        coco = export_coco_json(args.dataset, args.output, image_root=args.image_root)
    except DataError as e:
        sys.exit(f"error: {e}")
    print(
        f"wrote {args.output}: {len(coco['images'])} images, {len(coco['annotations'])} instances"
    )


if __name__ == "__main__":
    main()
