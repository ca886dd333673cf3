"""Building detectron2 dataset records from (image, mask) file pairs, with an on-disk cache.

Shared by every registrar (Kaggle layout, CASIA). A record follows docs/DESIGN.md: ``file_name``,
``image_id``, ``case_id``, ``height``/``width`` (image header only, never decoded), ``label``,
``mask_file`` and ``annotations`` (COCO-style instances: pycocotools RLE with ``counts`` as str,
``bbox`` XYWH_ABS, ``category_id`` 0, ``iscrowd`` 0).

Instances from a ``(N, H, W)`` mask: one per non-empty channel, or with ``split_components`` one
per 8-connected component of each channel, dropping components smaller than
``min_component_area`` pixels. A non-empty channel never disappears: when all its components are
below the area, its largest component is kept, so a forged image always has instances.

Cache: building instances decodes every mask (~ms each, a few seconds for the competition's 2,751
masks). :class:`RecordCache` keeps the built header size and instances per image in one JSON file
per (image folder, options), shared by the splits of that folder, keyed by each image's and
mask's path, size and mtime; a changed, added or removed file is rebuilt, the rest is reused.
Location: ``cache_dir`` argument, else
``$FORGERY_D2_CACHE``, else ``~/.cache/forgery_d2``; ``cache_dir=False`` disables it. A cache that
cannot be written (read-only home) only logs a warning.
"""

import hashlib
import json
import logging
import os
import tempfile

import cv2
import numpy as np
import pycocotools.mask as mask_util
from detectron2.structures import BoxMode

from forgery_d2.config import default_value

from .io import DataError, image_size, read_mask

__all__ = [
    "record_label",
    "mask_to_annotations",
    "annotations_to_masks",
    "RecordCache",
    "RecordBuilder",
]

logger = logging.getLogger(__name__)

_CACHE_VERSION = 1


def _instance_from_binary(binary):
    rle = mask_util.encode(np.asfortranarray(binary, dtype=np.uint8))
    bbox = [float(v) for v in mask_util.toBbox(rle)]
    rle["counts"] = rle["counts"].decode("ascii")
    return {"bbox": bbox, "segmentation": rle, "category_id": 0, "iscrowd": 0}


def _components(channel, min_area):
    count, labels, stats, _ = cv2.connectedComponentsWithStats(channel, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the background
    if len(areas) == 0:
        return []
    keep = [i + 1 for i in np.flatnonzero(areas >= min_area)]
    if not keep:
        keep = [int(np.argmax(areas)) + 1]
    return [(labels == k).astype(np.uint8) for k in keep]


def record_label(record) -> int:
    """The image-level label of a dataset dict: 1 forged, 0 authentic.

    ``label`` when the record has one, else 1 when it names a ``mask_file`` (records made by other
    tools). Raises DataError for an unlabelled record (``label`` None: a test folder without
    ``test_masks/``), which cannot be scored.
    """
    label = record.get("label", 1 if record.get("mask_file") else 0)
    if label is None:
        raise DataError(
            f"image {record.get('image_id')} ({record.get('file_name')}) has no label (no ground-truth "
            "masks for its folder): it cannot be scored; evaluate a labelled dataset, or predict with "
            "tools/predict.py"
        )
    if int(label) not in (0, 1):
        raise DataError(
            f"image {record.get('image_id')} ({record.get('file_name')}): label must be 0 or 1, got {label!r}"
        )
    return int(label)


def mask_to_annotations(mask, split_components=False, min_component_area=None):
    """COCO-style instance annotations (``bbox_mode`` not set) from a 0/1 ``(N, H, W)`` mask.

    Empty channels give no instance. See the module docstring for ``split_components``;
    ``min_component_area`` defaults to ``FORGERY.DATA.MIN_COMPONENT_AREA``.
    """
    if min_component_area is None:
        min_component_area = default_value("FORGERY.DATA.MIN_COMPONENT_AREA")
    mask = np.asarray(mask, dtype=np.uint8)
    if mask.ndim != 3:
        raise ValueError(f"mask_to_annotations expects an (N, H, W) mask, got shape {mask.shape}")
    annotations = []
    for channel in mask:
        if not channel.any():
            continue
        parts = _components(channel, min_component_area) if split_components else [channel]
        annotations.extend(_instance_from_binary(part) for part in parts)
    return annotations


def annotations_to_masks(annotations, height=None, width=None):
    """Decode the RLE segmentations of ``annotations`` back to a ``uint8 (N, H, W)`` 0/1 array."""
    if not annotations:
        if height is None or width is None:
            raise ValueError(
                "annotations_to_masks needs height and width when there are no annotations"
            )
        return np.zeros((0, height, width), dtype=np.uint8)
    rles = []
    for ann in annotations:
        rle = dict(ann["segmentation"])
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
        rles.append(rle)
    return np.ascontiguousarray(np.moveaxis(mask_util.decode(rles), 2, 0))


def _stat_key(path):
    if path is None:
        return None
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def default_cache_dir():
    """``$FORGERY_D2_CACHE`` or ``~/.cache/forgery_d2``."""
    return os.environ.get("FORGERY_D2_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "forgery_d2"
    )


class RecordCache:
    """Built (height, width, annotations) per image, persisted as one JSON file (see module doc)."""

    def __init__(self, cache_dir, scope):
        """``scope``: a JSON-able description of what was built (folder, options): names the file."""
        self.path = None
        self.entries = {}
        self.dirty = False
        if cache_dir is False:
            return
        cache_dir = default_cache_dir() if cache_dir is None else os.fspath(cache_dir)
        digest = hashlib.sha1(
            json.dumps([_CACHE_VERSION, scope], sort_keys=True).encode()
        ).hexdigest()[:20]
        self.path = os.path.join(cache_dir, f"records-{digest}.json")
        try:
            with open(self.path) as f:
                stored = json.load(f)
            if stored.get("version") == _CACHE_VERSION:
                self.entries = stored["entries"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, AttributeError) as e:
            logger.warning("Ignoring unreadable record cache %s (%s); rebuilding it.", self.path, e)

    def get(self, image_path, mask_path, signature):
        entry = self.entries.get(image_path)
        if (
            entry is not None
            and entry["mask_file"] == mask_path
            and entry["signature"] == signature
        ):
            return entry
        return None

    def put(self, image_path, entry):
        self.entries[image_path] = entry
        self.dirty = True

    def save(self):
        """Write the cache if it changed, forgetting images that no longer exist."""
        if self.path is None:
            return
        stale = [p for p in self.entries if not os.path.exists(p)]
        if not self.dirty and not stale:
            return
        stale = set(stale)
        entries = {p: e for p, e in self.entries.items() if p not in stale}
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump({"version": _CACHE_VERSION, "entries": entries}, f)
            os.replace(tmp, self.path)  # atomic: concurrent loaders never read half a file
        except OSError as e:
            logger.warning(
                "Could not write the record cache %s (%s); loading still works.", self.path, e
            )


class RecordBuilder:
    """Builds records for one dataset load, reusing a :class:`RecordCache`."""

    def __init__(self, scope, split_components=False, min_component_area=None, cache_dir=None):
        if min_component_area is None:
            min_component_area = default_value("FORGERY.DATA.MIN_COMPONENT_AREA")
        self.split_components = bool(split_components)
        self.min_component_area = int(min_component_area)
        options = {
            "split_components": self.split_components,
            "min_component_area": self.min_component_area,
        }
        self.cache = RecordCache(cache_dir, {"scope": scope, "options": options})
        self.cache_hits = 0

    def build(self, image_path, image_id, case_id, label, mask_path=None):
        """One record. ``label``: 1 forged, 0 authentic, None unknown (no ``annotations`` key).

        A forged image's record gets instances from ``mask_path``; a forged image without a mask
        gets no ``annotations`` key (instances unknown, image-level label only).
        """
        image_path = os.path.abspath(image_path)
        mask_path = os.path.abspath(mask_path) if mask_path is not None else None
        signature = [_stat_key(image_path), _stat_key(mask_path)]
        entry = self.cache.get(image_path, mask_path, signature)
        if entry is None:
            height, width = image_size(image_path)
            annotations = None
            if mask_path is not None:
                mask = read_mask(mask_path, (height, width))
                annotations = mask_to_annotations(
                    mask, self.split_components, self.min_component_area
                )
            entry = {
                "mask_file": mask_path,
                "signature": signature,
                "height": height,
                "width": width,
                "annotations": annotations,
            }
            self.cache.put(image_path, entry)
        else:
            self.cache_hits += 1
        record = {
            "file_name": image_path,
            "image_id": image_id,
            "case_id": str(case_id),
            "height": entry["height"],
            "width": entry["width"],
            "label": label,
            "mask_file": mask_path,
        }
        if label == 0:
            record["annotations"] = []
        elif entry["annotations"] is not None:
            record["annotations"] = [
                {**ann, "bbox_mode": BoxMode.XYWH_ABS, "segmentation": dict(ann["segmentation"])}
                for ann in entry["annotations"]
            ]
        return record

    @staticmethod
    def drop_forged_without_instances(records, where):
        """Drop (with a warning) forged records whose mask has no foreground pixel: a forged label
        with nothing to segment would train as a negative and cannot be scored."""
        bad = [r for r in records if r["label"] == 1 and r.get("annotations") == []]
        if bad:
            names = ", ".join(os.path.basename(r["mask_file"]) for r in bad[:5])
            logger.warning(
                "%s: dropped %d forged image(s) whose mask is all zeros (%s%s).",
                where,
                len(bad),
                names,
                ", ..." if len(bad) > 5 else "",
            )
            bad_ids = {id(r) for r in bad}
            records = [r for r in records if id(r) not in bad_ids]
        return records

    def finish(self):
        """Persist the cache (call once after building every record of the load)."""
        self.cache.save()
