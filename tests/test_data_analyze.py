"""tools/analyze_dataset.py: tables from real records, PNG plots and sample grids."""

import os
import sys

import numpy as np
from _fixtures import make_kaggle_layout

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import analyze_dataset  # noqa: E402

from forgery_d2.data.builtin import register_all_builtin  # noqa: E402
from forgery_d2.data.kaggle import load_forgery_dicts  # noqa: E402


def test_summary_statistics(tmp_path):
    masks = make_kaggle_layout(tmp_path / "recodai", n_cases=4)
    stats = analyze_dataset.summarize(
        load_forgery_dicts(tmp_path / "recodai", "train_all", cache_dir=False)
    )
    assert stats["labels"][1] == stats["labels"][0] == 4
    assert stats["modes"] == {"RGB": 4, "RGBA": 2, "L": 2}
    assert stats["instances"] == {1: 2, 2: 2}
    expected = sorted(m.max(axis=0).mean() for m in masks.values())
    np.testing.assert_allclose(sorted(stats["fractions"]), expected)


def test_cli_writes_tables_and_plots(tmp_path, monkeypatch, capsys):
    make_kaggle_layout(tmp_path / "recodai", n_cases=3, test_masks=True)
    monkeypatch.setenv("FORGERY_D2_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "eda"
    try:
        analyze_dataset.main(
            [
                "--dataset",
                "forgery_train_all",
                "forgery_test",
                "--output",
                str(out),
                "--samples",
                "4",
                "--datasets-root",
                str(tmp_path),
            ]
        )
    finally:
        register_all_builtin()  # the tool re-roots the builtin datasets: restore the default
    assert "| forgery_train_all |        6 |        3 |           3 |" in capsys.readouterr().out
    for name in (
        "sizes",
        "instances",
        "forged_fraction",
        "colour_modes",
        "samples_forgery_train_all",
        "samples_forgery_test",
    ):
        assert (out / f"{name}.png").stat().st_size > 1000
