"""Runtime compatibility with the detectron2 v0.6 build this project installs offline.

This is the ONE place that handles differences between detectron2 builds. It is imported first by
``forgery_d2/__init__.py`` and patches nothing on disk. On a full upstream detectron2 build
(compiled ops, current sources) every function here is a no-op.

What the v0.6 Python-only build (``scripts/install_detectron2.sh``) needs with today's packages:

1. ``detectron2._C`` (compiled ops) does not exist, but ``detectron2.layers`` imports it at import
   time. Those ops only serve deformable conv, rotated boxes and the fast COCOeval; standard
   Mask R-CNN uses torchvision's roi_align/nms. We register a placeholder module whose attributes
   raise a clear error if one of those ops is actually used.
2. Pillow >= 10 removed ``Image.LINEAR``, a default argument in
   ``detectron2/data/transforms/transform.py`` (upstream replaced it by BILINEAR in 2023).

Import ``forgery_d2`` before any ``detectron2`` submodule when running on the v0.6 build.
Things we avoid rather than patch: numpy>=1.24 has no ``np.bool`` (used by v0.6 for empty *polygon*
masks: forgery_d2 uses ``INPUT.MASK_FORMAT: bitmask``); the fast COCOeval (never requested);
model-zoo YAMLs (not shipped by the build: configs/ has the project's own bases).
"""

import importlib.machinery
import importlib.util
import sys
import types

__all__ = ["apply", "has_compiled_ops"]


class _MissingCompiledOps(types.ModuleType):
    """Stands in for ``detectron2._C`` on a build without compiled ops."""

    # Read by detectron2.utils.collect_env (logged by default_setup): describe the build truthfully.
    @staticmethod
    def get_compiler_version():
        return "none (detectron2 built without compiled ops)"

    get_cuda_version = get_compiler_version

    @staticmethod
    def has_cuda():
        return False

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(
            f"detectron2._C.{name} is a compiled op, and this detectron2 was built without compiled "
            "ops (scripts/install_detectron2.sh). Deformable conv, rotated boxes and the fast "
            "COCOeval need a full detectron2 build; forgery_d2's models do not use them."
        )


def has_compiled_ops() -> bool:
    """True when detectron2 was built with its C++/CUDA extension."""
    module = sys.modules.get("detectron2._C")
    if module is not None:
        return not isinstance(module, _MissingCompiledOps)
    return importlib.util.find_spec("detectron2._C") is not None


def _install_compiled_ops_placeholder():
    if has_compiled_ops():
        return
    placeholder = _MissingCompiledOps("detectron2._C")
    # A spec with an origin: detectron2.utils.collect_env inspects find_spec("detectron2._C").
    placeholder.__spec__ = importlib.machinery.ModuleSpec(
        "detectron2._C", loader=None, origin="(not built: forgery_d2.compat placeholder)"
    )
    sys.modules["detectron2._C"] = placeholder


def _restore_pillow_linear():
    from PIL import Image

    if not hasattr(Image, "LINEAR"):
        Image.LINEAR = Image.BILINEAR


def apply():
    """Apply every shim; safe to call more than once."""
    _restore_pillow_linear()
    _install_compiled_ops_placeholder()
