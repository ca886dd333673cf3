#!/usr/bin/env bash
# Install detectron2 into the Python interpreter given as $1 (default: python), without compiled ops.
#
# Why this script exists: detectron2 is not on PyPI under its own name and its upstream install
# builds from GitHub source, which this project's machines cannot reach. PyPI carries
# `pb1-detectron2==0.6`, an unmodified copy of detectron2 v0.6's Python sources that lacks
# detectron2/layers/csrc, so a plain `pip install` of it fails. We build it with `ext_modules`
# emptied. What that build then lacks at runtime (detectron2._C, and two incompatibilities with
# today's Pillow/setuptools) is handled in ONE place: forgery_d2/compat.py.
#
# Users with internet access should install upstream instead (compiled ops included):
#   pip install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git'
# forgery_d2 runs unchanged on either build.
set -euo pipefail
PY="${1:-python}"

has_d2='import importlib.util as u, sys; sys.exit(u.find_spec("detectron2") is None)'
if "$PY" -c "$has_d2"; then
  echo "detectron2 already installed, leaving it as it is"
  exit 0
fi
"$PY" -c "import torch" 2>/dev/null || { echo "install torch first (detectron2's setup.py imports it)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# --no-build-isolation: the sdist's setup.py imports torch to prepare its metadata.
"$PY" -m pip download -qq --no-deps --no-build-isolation pb1-detectron2==0.6 -d "$work"
tar -xzf "$work"/pb1-detectron2-0.6.tar.gz -C "$work"
src="$work/pb1-detectron2-0.6"
# The only change to the sources: build no C++/CUDA extension (its sources are not in the sdist).
grep -q "ext_modules=get_extensions()," "$src/setup.py" || { echo "unexpected pb1-detectron2 setup.py" >&2; exit 1; }
sed -i 's/ext_modules=get_extensions(),/ext_modules=[],/' "$src/setup.py"
# --no-deps: its pins (black==21.4b2 among them) would drag old packages in; the runtime
# dependencies we need are pinned in requirements.txt.
"$PY" -m pip install -qq --no-build-isolation --no-deps "$src"
echo "installed detectron2 $("$PY" -c 'import detectron2; print(detectron2.__version__)') (v0.6 Python sources, no compiled ops)"
