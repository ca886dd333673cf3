"""The synthetic dataset writer and its CLI: layout, dtypes, masks vs pixels, solution.csv, seeds."""

import csv
import hashlib
import importlib.util
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from forgery_d2.competition.rle import decode_annotation
from forgery_d2.data.synthetic.blots import draw_blot
from forgery_d2.data.synthetic.copy_move import feather_reach, plant_copy_move
from forgery_d2.data.synthetic.generator import (
    TEST_CASE_ID_OFFSET,
    SyntheticOptions,
    generate_dataset,
)
from forgery_d2.data.synthetic.sources import (
    SourceOptions,
    _split_part,
    sample_authentic,
    skimage_image_paths,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_TRAIN, NUM_TEST = 8, 6


def _small_options(**source_kw):
    return SyntheticOptions(sources=SourceOptions(min_size=64, max_size=160, **source_kw))


def _generate(root, seed=3, workers=1):
    return generate_dataset(
        str(root), NUM_TRAIN, NUM_TEST, seed, _small_options(), workers=workers, progress=False
    )


def _digests(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _read_png(path):
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    summary = _generate(root)
    return root, summary


def test_layout_and_dtypes(dataset):
    root, summary = dataset
    assert summary["train_cases"] == NUM_TRAIN and summary["test_images"] == NUM_TEST
    authentic = sorted(os.listdir(root / "train_images" / "authentic"))
    forged = sorted(os.listdir(root / "train_images" / "forged"))
    masks = sorted(os.listdir(root / "train_masks"))
    assert authentic == forged == [f"{i}.png" for i in sorted(range(NUM_TRAIN), key=str)]
    assert masks == [n.replace(".png", ".npy") for n in forged]
    for name in forged:
        cid = name[:-4]
        a = _read_png(str(root / "train_images" / "authentic" / name))
        f = _read_png(str(root / "train_images" / "forged" / name))
        m = np.load(root / "train_masks" / f"{cid}.npy")
        assert a.shape == f.shape and a.dtype == f.dtype == np.uint8
        assert a.ndim == 2 or a.shape[2] in (3, 4)
        if a.ndim == 3 and a.shape[2] == 4:
            assert (a[:, :, 3] == 255).all()
        assert (
            m.dtype == np.uint8
            and m.ndim == 3
            and 1 <= m.shape[0] <= 3
            and m.shape[1:] == a.shape[:2]
        )
        assert set(np.unique(m)) == {0, 1} and all(ch.any() for ch in m)
        assert max(a.shape[:2]) >= 64


def test_forged_differs_from_authentic_only_inside_masks(dataset):
    root, _ = dataset
    records = {r["case_id"]: r for r in map(json.loads, open(root / "cases.jsonl"))}
    for cid, rec in records.items():
        if rec["split"] != "train":
            continue
        a = _read_png(str(root / "train_images" / "authentic" / f"{cid}.png")).astype(int)
        f = _read_png(str(root / "train_images" / "forged" / f"{cid}.png")).astype(int)
        masks = np.load(root / "train_masks" / f"{cid}.npy").astype(bool)
        changed = (a != f).any(axis=-1) if a.ndim == 3 else a != f
        allowed = masks.any(axis=0)
        for event, mask in zip(rec["events"], masks):
            feather = event["transform"]["feather"]
            if feather:
                r = feather_reach(feather)
                allowed |= cv2.dilate(
                    mask.astype(np.uint8), np.ones((2 * r + 1,) * 2, np.uint8)
                ).astype(bool)
            assert changed[mask].mean() > 0.1, f"case {cid}: an event barely changed the image"
        assert not changed[~allowed].any(), f"case {cid}: pixels changed outside the masks"
        assert changed.any()


def test_test_split_and_solution_csv(dataset):
    root, summary = dataset
    images = sorted(os.listdir(root / "test_images"))
    ids = [n[:-4] for n in images]
    assert len(ids) == NUM_TEST and all(int(i) >= TEST_CASE_ID_OFFSET for i in ids)
    assert not set(ids) & {str(i) for i in range(NUM_TRAIN)}
    with open(root / "solution.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["case_id"] for r in rows] and sorted(r["case_id"] for r in rows) == sorted(ids)
    assert set(rows[0]) == {"case_id", "annotation", "shape"}
    forged = [r for r in rows if r["annotation"] != "authentic"]
    assert len(forged) == summary["test_forged"] == NUM_TEST // 2
    assert sorted(os.listdir(root / "test_masks")) == sorted(f"{r['case_id']}.npy" for r in forged)
    for r in rows:
        image = _read_png(str(root / "test_images" / f"{r['case_id']}.png"))
        shape = json.loads(r["shape"])
        assert shape == list(image.shape[:2])
        decoded = decode_annotation(r["annotation"], shape)
        if r["annotation"] == "authentic":
            assert decoded is None
        else:
            np.testing.assert_array_equal(
                decoded, np.load(root / "test_masks" / f"{r['case_id']}.npy")
            )
    with open(root / "sample_submission.csv", newline="") as f:
        sample = list(csv.DictReader(f))
    assert [s["case_id"] for s in sample] == [r["case_id"] for r in rows]


def test_seed_reproduces_bytes_with_any_worker_count(dataset, tmp_path):
    root, _ = dataset
    _generate(tmp_path / "again", seed=3, workers=2)
    assert _digests(root) == _digests(tmp_path / "again")
    _generate(tmp_path / "other", seed=4)
    a, b = _digests(root), _digests(tmp_path / "other")
    assert sum(a[k] != b.get(k) for k in a) >= len(a) // 2


def test_existing_dataset_needs_overwrite(dataset):
    root, _ = dataset
    with pytest.raises(FileExistsError, match="overwrite"):
        _generate(root)


def _duplicated_patches(image, size=8):
    """Number of textured size x size patches that occur more than once.

    Patches mostly made of saturated (0 / 255) pixels are skipped: saturated band cores and white
    canvas are flat by nature, in real figures too.
    """
    grey = image if image.ndim == 2 else image[:, :, 0]
    patches = np.lib.stride_tricks.sliding_window_view(grey, (size, size))[::2, ::2].reshape(
        -1, size * size
    )
    unsaturated = ((patches > 0) & (patches < 255)).mean(axis=1)
    patches = patches[(patches.std(axis=1) > 0) & (unsaturated >= 0.5)]
    return len(patches) - len(np.unique(patches, axis=0))


def test_authentic_blots_hold_no_duplicated_patches():
    rng = np.random.default_rng(0)
    for _ in range(6):
        blot, bands = draw_blot(rng, int(rng.integers(60, 200)), int(rng.integers(150, 320)))
        assert bands and _duplicated_patches(blot) == 0
    # The check itself sees a planted copy.
    forged, _ = plant_copy_move(
        blot, bands[0], (0, 0) if bands[0][0] > 40 else (blot.shape[1] - 40, 0)
    )
    assert _duplicated_patches(forged) > 0


def test_authentic_sources_hold_no_duplicated_patches():
    rng = np.random.default_rng(1)
    for _ in range(6):
        source = sample_authentic(
            rng,
            "train",
            SourceOptions(min_size=96, max_size=200, kind_probs={"blot": 1, "figure": 1}),
        )
        assert _duplicated_patches(source.image) == 0, source.kind


def test_train_and_test_sources_never_share_pixels():
    image = np.arange(30 * 50).reshape(30, 50)
    train, test = _split_part(image, "train", 0.3), _split_part(image, "test", 0.3)
    assert train.shape == (30, 35) and test.shape == (30, 15)
    assert not set(train.ravel()) & set(test.ravel())
    assert skimage_image_paths(), "the scikit-image wheel's sample images are missing"


def test_user_source_dir(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(2):
        cv2.imwrite(
            str(folder / f"fig{i}.png"), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
        )
    opts = SourceOptions(
        min_size=64, max_size=128, source_dir=str(folder), kind_probs={"folder": 1.0}
    )
    source = sample_authentic(rng, "test", opts)
    assert source.kind == "folder" and source.sources[0] in ("folder:fig0.png", "folder:fig1.png")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "figure.png").write_bytes(b"not a png")
    opts.source_dir = str(broken)
    from forgery_d2.data.io import DataError

    with pytest.raises(DataError, match="figure.png"):
        for seed in range(20):
            sample_authentic(np.random.default_rng(seed), "train", opts)


def _cli_main():
    spec = importlib.util.spec_from_file_location(
        "make_synthetic", os.path.join(REPO, "tools", "make_synthetic.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "cli"
    args = [
        "--style",
        "legacy",
        "--output",
        str(out),
        "--num-images",
        "3",
        "--num-test",
        "2",
        "--seed",
        "1",
        "--min-size",
        "64",
        "--max-size",
        "128",
        "--workers",
        "1",
        "--no-progress",
    ]
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "make_synthetic.py"), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (
        summary["train_cases"] == 3 and summary["test_images"] == 2 and summary["test_forged"] == 1
    )
    assert (
        len(os.listdir(out / "train_images" / "forged")) == 3
        and len(os.listdir(out / "test_images")) == 2
    )
    # Errors are one clear line, no traceback.
    main = _cli_main()
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    bad = [
        "--style",
        "legacy",
        "--output",
        str(tmp_path / "bad"),
        "--kind-probs",
        "blot=1,paintings=2",
    ]
    assert main(bad) == 2
    assert "paintings" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--kind-probs", "blot:1"])
    assert "name=weight" in capsys.readouterr().err
