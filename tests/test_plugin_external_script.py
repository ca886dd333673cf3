"""A detectron2 script outside the project trains on forgery_synthetic_train via `import forgery_d2`."""

import os
import subprocess
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_plain_detectron2_script_trains_on_synthetic_data(tmp_path):
    from forgery_d2.data.synthetic.generator import SyntheticOptions, generate_dataset
    from forgery_d2.data.synthetic.sources import SourceOptions

    options = SyntheticOptions(sources=SourceOptions(min_size=96, max_size=128, large_prob=0.0))
    generate_dataset(
        str(tmp_path / "synthetic"),
        num_images=6,
        num_test=0,
        seed=3,
        options=options,
        progress=False,
    )
    out = tmp_path / "out"
    env = dict(
        os.environ, FORGERY_DATASETS=str(tmp_path), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore"
    )
    cmd = [
        sys.executable,
        os.path.join(REPO, "examples", "train_with_plain_detectron2.py"),
        "--config-file",
        os.path.join(REPO, "configs", "quick", "forgery_R_18_FPN_quick.yaml"),
        "SOLVER.MAX_ITER",
        "2",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "DATALOADER.NUM_WORKERS",
        "0",
        "INPUT.MIN_SIZE_TRAIN",
        "(96,)",
        "INPUT.MAX_SIZE_TRAIN",
        "128",
        "OUTPUT_DIR",
        str(out),
    ]
    # Run from an unrelated folder: only the installed package is used, not the repo's layout.
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "model_final.pth").is_file()
    state = torch.load(out / "model_final.pth", map_location="cpu", weights_only=False)
    assert state["iteration"] == 1  # detectron2 stores the last finished iteration (MAX_ITER - 1)
    assert "forgery_synthetic_train" in (out / "config.yaml").read_text()
