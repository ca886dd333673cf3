"""The forgery-safe dataset mapper: dataset dict -> model input, with evidence-preserving augmentation.

A copy-move forgery is evidence by *equality*: two regions of one figure hold the same pixels. An
augmentation is safe when it changes the source and its copy in the same way, so that they stay
equal (up to interpolation) and the mask still marks both:

- flips, exact 90-degree rotations: permute pixels without resampling (lossless);
- scale jitter (``INPUT.MIN_SIZE_TRAIN``, detectron2's ResizeShortestEdge): one global resampling;
- global brightness / contrast: the same affine map on every pixel;
- a mild global Gaussian blur (sigma <= ~1 px): the same low-pass everywhere; keeps texture.

Deliberately absent, because they alter or hide the duplicated pixels *differently* in source and
copy, or break the pairing the mask describes: JPEG re-compression (its 8x8 block grid falls at
different offsets on the two regions, so their compressed pixels differ), heavy blur (erases the
texture that makes the pair recognizable), elastic / perspective warps and arbitrary-angle
rotations (local resampling differs per position), cutout / random erasing and random crops (can
hide or cut away one region of a pair while the other stays marked), per-region colour jitter and
noise (different values on source and copy).

Images are read with :func:`forgery_d2.data.io.read_image`; instance masks become bitmasks.

**Image maps.** A mapper built with ``image_maps`` (a function of the original image and its dataset
dict, e.g. forgery_d2.modeling.copy_evidence's dense copy-evidence map) computes that map on the
image *as read*, before any augmentation, and sends it along the same geometric transforms
(:func:`transform_image_maps`): flips and 90-degree turns are applied to it, the resize becomes
"resized to the augmented image's size"; photometric steps do not touch it. The result is the
input's ``"image_maps"``: ``uint8 (C, H, W)`` aligned pixel for pixel with ``"image"``.
"""

import copy
import logging
from typing import Callable, List, Optional, Union

import cv2
import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from fvcore.transforms.transform import (
    BlendTransform,
    HFlipTransform,
    NoOpTransform,
    Transform,
    VFlipTransform,
)

from forgery_d2.data.io import read_image

__all__ = [
    "AugmentationConfigError",
    "ForgeryDatasetMapper",
    "Rot90Transform",
    "RandomRot90",
    "GaussianBlurTransform",
    "RandomGaussianBlur",
    "build_forgery_augmentation",
    "resize_image_maps",
    "transform_image_maps",
]


class AugmentationConfigError(ValueError):
    """A ``cfg.FORGERY.AUG`` value that cannot be used (the message names the key)."""


class Rot90Transform(Transform):
    """Exact counter-clockwise rotation by ``k`` * 90 degrees of an ``(h, w)`` image (no resampling)."""

    def __init__(self, k: int, h: int, w: int):
        super().__init__()
        self._set_attributes(dict(k=int(k) % 4, h=int(h), w=int(w)))

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(img, self.k, axes=(0, 1)))

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return self.apply_image(segmentation)

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        coords = np.asarray(coords, dtype=np.float64).copy()
        w, h = self.w, self.h
        for _ in range(self.k):  # one CCW quarter turn: (x, y) -> (y, w - x); sizes swap
            coords = np.stack([coords[:, 1], w - coords[:, 0]], axis=1)
            w, h = h, w
        return coords

    def inverse(self) -> Transform:
        h, w = (self.w, self.h) if self.k % 2 else (self.h, self.w)
        return Rot90Transform(4 - self.k, h, w)


class RandomRot90(T.Augmentation):
    """With probability ``prob``, rotate by 90, 180 or 270 degrees (uniformly), exactly."""

    def __init__(self, prob: float = 0.5):
        super().__init__()
        self._init(locals())

    def get_transform(self, image):
        if self._rand_range() >= self.prob:
            return NoOpTransform()
        k = int(np.random.randint(1, 4))
        return Rot90Transform(k, image.shape[0], image.shape[1])


class GaussianBlurTransform(Transform):
    """A global Gaussian blur of the image; geometry and masks are unchanged."""

    def __init__(self, sigma: float):
        super().__init__()
        self._set_attributes(dict(sigma=float(sigma)))

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        blurred = cv2.GaussianBlur(img, (0, 0), sigmaX=self.sigma, sigmaY=self.sigma)
        return blurred.reshape(img.shape)  # cv2 drops a trailing channel axis of size 1

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return segmentation

    def inverse(self) -> Transform:
        return NoOpTransform()  # blur is not invertible; geometry is the identity


class RandomGaussianBlur(T.Augmentation):
    """With probability ``prob``, blur with a sigma drawn uniformly from ``sigma_range``."""

    def __init__(self, sigma_range=(0.3, 1.0), prob: float = 0.2):
        super().__init__()
        self._init(locals())

    def get_transform(self, image):
        if self._rand_range() >= self.prob:
            return NoOpTransform()
        return GaussianBlurTransform(self._rand_range(*self.sigma_range))


def resize_image_maps(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """``maps (C, h, w)`` resized to ``(C, height, width)``. Shrinking keeps local maxima (a max
    filter twice as wide as the shrink factor, so that every output cell it overlaps is filled,
    then area averaging): sparse evidence must not vanish."""
    channels, h, w = maps.shape
    if (h, w) == (height, width):
        return maps
    planes = np.ascontiguousarray(maps.transpose(1, 2, 0))
    factor = max(h / max(height, 1), w / max(width, 1))
    if factor > 1.5:
        size = 2 * int(np.ceil(factor)) + 1
        planes = cv2.dilate(planes, np.ones((size, size), np.uint8)).reshape(h, w, channels)
    interpolation = cv2.INTER_AREA if factor > 1 else cv2.INTER_LINEAR
    resized = cv2.resize(planes, (width, height), interpolation=interpolation)
    return np.ascontiguousarray(resized.reshape(height, width, channels).transpose(2, 0, 1))


# Transforms that change pixel values only: image maps ignore them.
_PHOTOMETRIC = (BlendTransform, GaussianBlurTransform, NoOpTransform)


def transform_image_maps(maps: np.ndarray, transforms, height: int, width: int) -> np.ndarray:
    """Send ``maps (C, h, w)`` of an original image along the ``transforms`` that augmented it,
    to the augmented image's ``(height, width)``: flips and :class:`Rot90Transform` are applied at
    the map's own resolution (they commute with resizing), resizes are replaced by one final
    :func:`resize_image_maps`, photometric steps are skipped. Any other transform (a crop, an
    arbitrary rotation) is an error: its effect on a map of another resolution is not defined."""
    planes = maps.transpose(1, 2, 0)
    for transform in (
        transforms.transforms if isinstance(transforms, T.TransformList) else transforms
    ):
        if isinstance(transform, (HFlipTransform, VFlipTransform, Rot90Transform)):
            planes = transform.apply_image(planes)
        elif isinstance(transform, T.ResizeTransform) or isinstance(transform, _PHOTOMETRIC):
            continue
        else:
            raise AugmentationConfigError(
                f"image maps (e.g. MODEL.COPY_EVIDENCE) cannot follow the augmentation {type(transform).__name__}: "
                "only resizing, flips, 90-degree rotations and photometric changes are supported"
            )
    return resize_image_maps(np.ascontiguousarray(planes.transpose(2, 0, 1)), height, width)


def _check_range(name, value):
    if len(value) == 0:
        return None
    if len(value) != 2 or not 0 < value[0] <= value[1]:
        raise AugmentationConfigError(
            f"cfg.FORGERY.AUG.{name} must be [] or [low, high] with 0 < low <= high, got {value}"
        )
    return tuple(float(v) for v in value)


def build_forgery_augmentation(cfg, is_train: bool) -> List[T.Augmentation]:
    """detectron2's resize (scale jitter in training) followed, in training, by the forgery-safe
    augmentations of ``cfg.FORGERY.AUG``."""
    augs = utils.build_augmentation(cfg, is_train)[:1]  # ResizeShortestEdge; flips come from AUG
    aug_cfg = cfg.FORGERY.AUG
    if not (is_train and aug_cfg.ENABLED):
        return augs
    if aug_cfg.HFLIP_PROB > 0:
        augs.append(T.RandomFlip(prob=aug_cfg.HFLIP_PROB, horizontal=True, vertical=False))
    if aug_cfg.VFLIP_PROB > 0:
        augs.append(T.RandomFlip(prob=aug_cfg.VFLIP_PROB, horizontal=False, vertical=True))
    if aug_cfg.ROT90_PROB > 0:
        augs.append(RandomRot90(aug_cfg.ROT90_PROB))
    brightness = _check_range("BRIGHTNESS", aug_cfg.BRIGHTNESS)
    if brightness:
        augs.append(T.RandomBrightness(*brightness))
    contrast = _check_range("CONTRAST", aug_cfg.CONTRAST)
    if contrast:
        augs.append(T.RandomContrast(*contrast))
    sigma = _check_range("BLUR_SIGMA", aug_cfg.BLUR_SIGMA)
    if aug_cfg.BLUR_PROB > 0 and sigma:
        augs.append(RandomGaussianBlur(sigma, aug_cfg.BLUR_PROB))
    return augs


class ForgeryDatasetMapper:
    """Maps a forgery dataset dict (docs/DESIGN.md) to detectron2's model input.

    Like :class:`detectron2.data.DatasetMapper`, but reads images with forgery_d2's reader (RGBA,
    grayscale and 16-bit figures), uses the forgery-safe augmentations, and keeps authentic images
    (no annotations) as negatives with empty ``instances``. The dict's other keys (``label``,
    ``case_id``, ``mask_file``...) are passed through for models and evaluators that use them.
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        augmentations: List[Union[T.Augmentation, T.Transform]],
        image_format: str,
        use_instance_mask: bool = True,
        instance_mask_format: str = "bitmask",
        recompute_boxes: bool = False,
        image_maps: Optional[Callable[[np.ndarray, dict], np.ndarray]] = None,
    ):
        """
        Args:
            is_train: keep and transform annotations (training, validation loss) or drop them.
            augmentations: applied in order (see :func:`build_forgery_augmentation`).
            image_format: detectron2's ``INPUT.FORMAT``.
            use_instance_mask: produce ``gt_masks``.
            instance_mask_format: "bitmask" (recommended) or "polygon".
            recompute_boxes: tight boxes from the transformed masks.
            image_maps: ``(image as read, dataset dict) -> (C, h, w)`` array (any resolution) of
                per-pixel maps; sent along the augmentation as ``"image_maps"`` (module docstring).
        """
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format
        self.use_instance_mask = use_instance_mask
        self.instance_mask_format = instance_mask_format
        self.recompute_boxes = recompute_boxes and use_instance_mask
        self.image_maps = image_maps
        mode = "training" if is_train else "inference"
        logging.getLogger(__name__).info(
            f"[ForgeryDatasetMapper] Augmentations for {mode}: {augmentations}"
        )

    @staticmethod
    def test_resize(cfg) -> List[T.Augmentation]:
        """The deterministic test-time resize (``INPUT.MIN_SIZE_TEST`` / ``MAX_SIZE_TEST``)."""
        return build_forgery_augmentation(cfg, is_train=False)

    @classmethod
    def from_config(
        cls, cfg, is_train: bool = True, augmentations: Optional[list] = None, image_maps=None
    ):
        return {
            "image_maps": image_maps,
            "is_train": is_train,
            "augmentations": (
                augmentations
                if augmentations is not None
                else build_forgery_augmentation(cfg, is_train)
            ),
            "image_format": cfg.INPUT.FORMAT,
            "use_instance_mask": cfg.MODEL.MASK_ON,
            "instance_mask_format": cfg.INPUT.MASK_FORMAT,
            # Rotations and resizing move box corners; boxes from masks stay tight.
            "recompute_boxes": cfg.MODEL.MASK_ON,
        }

    def __call__(self, dataset_dict):
        dataset_dict = copy.deepcopy(dataset_dict)
        image = read_image(dataset_dict["file_name"], format=self.image_format)
        utils.check_image_size(dataset_dict, image)

        maps = self.image_maps(image, dataset_dict) if self.image_maps is not None else None
        aug_input = T.AugInput(image)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if maps is not None:
            dataset_dict["image_maps"] = torch.as_tensor(
                transform_image_maps(maps, transforms, *image_shape)
            )

        if not self.is_train:
            dataset_dict.pop("annotations", None)
            return dataset_dict

        annos = []
        for anno in dataset_dict.pop("annotations", []):
            if anno.get("iscrowd", 0):
                continue
            if not self.use_instance_mask:
                anno.pop("segmentation", None)
            annos.append(utils.transform_instance_annotations(anno, transforms, image_shape))
        instances = utils.annotations_to_instances(
            annos, image_shape, mask_format=self.instance_mask_format
        )
        if self.recompute_boxes and len(instances):
            instances.gt_boxes = instances.gt_masks.get_bounding_boxes()
        dataset_dict["instances"] = utils.filter_empty_instances(instances)
        return dataset_dict
