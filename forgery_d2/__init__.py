"""forgery_d2: a detectron2 plugin that finds duplicated / copy-moved regions in scientific figures.

``import forgery_d2`` applies the detectron2 build shims (forgery_d2.compat), registers the builtin
datasets and the model components with detectron2's registries.
"""
from . import compat

compat.apply()

__version__ = "0.1.0"
