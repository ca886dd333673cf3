"""Shared test setup: CPU only, few threads, forgery_d2 imported first (detectron2 build shims)."""

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import forgery_d2  # noqa: E402,F401  (applies forgery_d2.compat before any detectron2 import)
