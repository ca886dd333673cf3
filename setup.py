"""pip install -e .  makes forgery_d2 importable from any detectron2 codebase.

torch/torchvision and detectron2 are deliberately not in install_requires: torch must match the
user's CUDA, and detectron2 is not on PyPI (see scripts/install_detectron2.sh and README.md).
"""

from setuptools import find_packages, setup

setup(
    name="forgery_d2",
    version="0.1.0",
    description="detectron2 plugin that finds duplicated / copy-moved regions in scientific figures",
    packages=find_packages(include=["forgery_d2", "forgery_d2.*"]),
    python_requires=">=3.9",
    install_requires=[
        "numpy",
        "scipy",
        "opencv-python-headless",
        "pycocotools",
        "scikit-image",
        "Pillow",
        "tqdm",
        "matplotlib",
        "pandas",
        "pyyaml",
    ],
)
