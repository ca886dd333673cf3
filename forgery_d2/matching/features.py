"""Image preparation and SIFT keypoints for copy-move matching.

Scientific figures come as RGB, RGBA, grayscale or 16-bit arrays and range from 64 px thumbnails to
4000 px compound figures. Matching runs on one grayscale "working" image whose longer side is
brought into ``[detect_min_size, detect_max_size]`` (small images are upscaled so that low-texture
blots still yield keypoints; huge ones are downscaled so matching time stays bounded). Keypoint
coordinates are returned in that working frame together with its scale.
"""

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "to_gray_uint8",
    "working_scale",
    "resize_by",
    "SiftFeatures",
    "detect_sift",
    "mirror_descriptors",
]


def to_gray_uint8(image: np.ndarray, channel_order: str = "RGB") -> np.ndarray:
    """Any figure array -> ``uint8 (H, W)`` luminance.

    Accepts ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` in ``channel_order`` ("RGB" or "BGR") and
    ``(H, W, 4)`` (RGBA/BGRA, composited over white: transparent figure backgrounds are white when
    printed). Integer types wider than 8 bits and floats are rescaled to 0..255.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}"
        )
    if image.size == 0:
        raise ValueError(f"empty image of shape {image.shape}")
    image = _to_float01(image)
    if image.ndim == 3:
        if image.shape[2] == 4:
            alpha = image[:, :, 3:4]
            image = image[:, :, :3] * alpha + (1.0 - alpha)
        weights = (0.299, 0.587, 0.114) if channel_order.upper() == "RGB" else (0.114, 0.587, 0.299)
        image = image @ np.asarray(weights, dtype=np.float32)
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _to_float01(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.integer):
        peak = float(image.max()) if image.size else 1.0
        scale = 65535.0 if peak > 255 else 255.0
        return image.astype(np.float32) / scale
    image = image.astype(np.float32)
    return image / 255.0 if float(np.nanmax(image)) > 1.0 else image


def working_scale(
    height: int, width: int, min_size: int, max_size: int, max_upscale: float
) -> float:
    """Scale factor that brings the longer side into ``[min_size, max_size]`` (upscaling at most
    ``max_upscale`` times)."""
    longer = max(height, width)
    if longer > max_size:
        return max_size / longer
    if longer < min_size:
        return min(min_size / longer, max_upscale)
    return 1.0


def resize_by(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize by ``scale`` (area averaging when shrinking, bicubic when enlarging)."""
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


@dataclass
class SiftFeatures:
    """Keypoints of one working image.

    ``points``: float32 (N, 2) x, y in the working frame; ``descriptors``: float32 (N, 128);
    ``mirrored``: bool (N,), True for the descriptors the horizontally flipped image has at the
    same keypoints (:func:`mirror_descriptors`; their points are in the unflipped frame).
    Matching an ordinary descriptor to a mirrored one reveals a flipped copy, which SIFT alone
    (rotation- but not reflection-invariant) cannot see. A vertical flip is a horizontal flip plus
    a 180 degree rotation, so one mirrored set covers both.
    """

    points: np.ndarray
    descriptors: np.ndarray
    mirrored: np.ndarray

    def __len__(self):
        return len(self.points)


def _root_sift(descriptors: np.ndarray) -> np.ndarray:
    """RootSIFT (Arandjelovic & Zisserman 2012): L1-normalize, then square root (Hellinger kernel)."""
    descriptors = descriptors / (np.abs(descriptors).sum(axis=1, keepdims=True) + 1e-7)
    return np.sqrt(descriptors).astype(np.float32)


def _mirror_permutation() -> np.ndarray:
    """Indices that reorder a SIFT descriptor into the one of the same keypoint in the
    horizontally mirrored image. OpenCV lays a descriptor out as 4 x 4 cells (rows across the
    keypoint's orientation, columns along it) x 8 bins of gradient angle relative to that
    orientation. A mirror keeps the orientation axis, reverses the axis across it and negates
    relative angles: row r -> 3 - r, bin o -> (8 - o) mod 8."""
    rows, cols, bins = np.meshgrid(np.arange(4), np.arange(4), np.arange(8), indexing="ij")
    return ((3 - rows) * 32 + cols * 8 + (8 - bins) % 8).ravel()


_MIRROR = _mirror_permutation()


def mirror_descriptors(descriptors: np.ndarray) -> np.ndarray:
    """SIFT (or RootSIFT) descriptors (N, 128) -> those of the same keypoints in the horizontally
    mirrored image. It replaces a second detection on the mirrored image, whose keypoints are the
    mirrored ones (SIFT's detector is symmetric) and whose descriptors equal these up to
    resampling (``test_mirrored_descriptors_are_those_of_the_mirrored_image``)."""
    return descriptors[:, _MIRROR]


def _detect_one(sift, gray: np.ndarray, root_sift: bool, mask=None):
    keypoints, descriptors = sift.detectAndCompute(gray, mask)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    points = np.asarray([kp.pt for kp in keypoints], dtype=np.float32)
    descriptors = descriptors.astype(np.float32)
    if root_sift:
        descriptors = _root_sift(descriptors)
    return points, descriptors


def detect_sift(
    gray: np.ndarray,
    max_keypoints: int,
    contrast_threshold: float = 0.04,
    root_sift: bool = True,
    with_mirrored: bool = True,
    mask: np.ndarray = None,
) -> SiftFeatures:
    """SIFT keypoints and descriptors of a ``uint8`` working image (plus its mirror, see
    :class:`SiftFeatures`). ``max_keypoints`` caps each set (strongest responses kept); with
    ``mask`` (uint8 (H, W), nonzero = allowed) keypoints are detected only where it allows."""
    sift = cv2.SIFT_create(
        nfeatures=int(max_keypoints), contrastThreshold=float(contrast_threshold)
    )
    points, descriptors = _detect_one(sift, gray, root_sift, mask)
    mirrored = np.zeros(len(points), dtype=bool)
    if with_mirrored:
        points = np.concatenate([points, points])
        descriptors = np.concatenate([descriptors, mirror_descriptors(descriptors)])
        mirrored = np.concatenate([mirrored, ~mirrored])
    return SiftFeatures(points=points, descriptors=descriptors, mirrored=mirrored)
