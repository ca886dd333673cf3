"""forgery_d2: a detectron2 plugin that finds duplicated / copy-moved regions in scientific figures.

``import forgery_d2`` (before any detectron2 submodule) applies the detectron2 build shims
(forgery_d2.compat), registers the builtin datasets (forgery_d2.data.builtin: names rooted at
``$FORGERY_DATASETS``) and the model components (forgery_d2.modeling: backbones, heads and the
ForgeryRCNN / CopyMoveMatcher / FusionRCNN meta-architectures) with detectron2's registries.
"""

from . import compat

compat.apply()

from . import modeling  # noqa: E402,F401  (registers backbones, meta-archs, heads)
from .config import add_forgery_config, get_forgery_cfg, load_config  # noqa: E402
from .data import builtin as _builtin_datasets  # noqa: E402,F401  (registers datasets)

__version__ = "0.1.0"
__all__ = ["add_forgery_config", "get_forgery_cfg", "load_config", "__version__"]
