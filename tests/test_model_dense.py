"""ForgeryDenseNet: builds from the dense config, learns from its copy-evidence input, and follows
the output contract (one soft-mask instance + image score at the input's size)."""

import os

import numpy as np
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Instances
from detectron2.utils.events import EventStorage

import forgery_d2.modeling  # noqa: F401  (registers the meta-architectures)
from forgery_d2.config import load_config
from forgery_d2.modeling.copy_evidence import MAP_KEY
from forgery_d2.modeling.meta_arch.forgery_dense import ForgeryDenseNet, pixel_targets

CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "dense", "dense_mnv3_quick.yaml")


def _cfg(*opts):
    return load_config(CONFIG, ["MODEL.DEVICE", "cpu", "MODEL.COPY_EVIDENCE.CACHE_DIR", "", *opts])


def _input(forged, generator, height=64, width=96):
    """Noise image; a forged one has a region whose copy-evidence channel is on (the cue)."""
    image = torch.randint(0, 256, (3, height, width), generator=generator, dtype=torch.uint8)
    maps = torch.zeros(3, height, width, dtype=torch.uint8)
    maps[2] = 255
    instances = Instances((height, width))
    masks = torch.zeros(1 if forged else 0, height, width, dtype=torch.bool)
    if forged:
        y, x = (int(v) for v in torch.randint(0, 32, (2,), generator=generator))
        masks[0, y : y + 24, x : x + 40] = True
        maps[0][masks[0]] = maps[1][masks[0]] = 255
    instances.gt_masks = BitMasks(masks)
    instances.gt_boxes = instances.gt_masks.get_bounding_boxes()
    instances.gt_classes = torch.zeros(len(masks), dtype=torch.int64)
    return {"image": image, MAP_KEY: maps, "instances": instances, "label": int(forged)}


def test_pixel_targets_are_the_union_of_instances_and_need_masks_when_forged():
    generator = torch.Generator().manual_seed(0)
    item = _input(True, generator)
    targets = pixel_targets([item, _input(False, generator)], (70, 100), "cpu")
    assert targets.shape == (2, 1, 70, 100)
    assert torch.equal(targets[0, 0, :64, :96].bool(), item["instances"].gt_masks.tensor[0])
    assert targets[1].sum() == 0 and targets[0, :, 64:].sum() == 0
    with pytest.raises(ValueError, match="labelled forged"):
        pixel_targets([{"label": 1, "file_name": "x.png"}], (8, 8), "cpu")


def test_dense_net_learns_the_evidence_cue_and_follows_the_output_contract():
    torch.manual_seed(0)
    model = build_model(_cfg("MODEL.FORGERY_DENSE.IMAGE_FEATURES", "['p5']"))
    assert isinstance(model, ForgeryDenseNet) and model.copy_evidence is not None
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(1)
    history = []
    model.train()
    for step in range(40):
        batch = [_input(True, generator), _input(False, generator)]
        with EventStorage(step):
            losses = model(batch)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append({k: float(v) for k, v in losses.items()})
    assert set(history[0]) == {"loss_pixel_bce", "loss_pixel_dice", "loss_image"}
    for key in history[0]:  # every loss falls: the cue reaches both heads
        assert np.mean([h[key] for h in history[-5:]]) < 0.7 * np.mean(
            [h[key] for h in history[:5]]
        ), key
    model.eval()
    forged, authentic = _input(True, generator), _input(False, generator)
    with torch.no_grad():
        outputs = model([dict(forged, height=128, width=192), authentic])
    assert outputs[0]["image_score"] > outputs[1]["image_score"]
    instances = outputs[0]["instances"]
    assert instances.image_size == (128, 192) and instances.pred_masks.shape == (1, 128, 192)
    assert instances.pred_masks.dtype == torch.uint8 and len(instances.scores) == 1
    truth = torch.nn.functional.interpolate(
        forged["instances"].gt_masks.tensor[None].float(), size=(128, 192)
    )[0, 0]
    predicted = instances.pred_masks[0] >= 128
    assert (predicted & truth.bool()).sum() > 0.5 * truth.sum()


def test_dense_net_computes_missing_maps_from_the_image_it_gets():
    model = build_model(_cfg())
    model.eval()
    image = torch.randint(0, 256, (3, 48, 64), dtype=torch.uint8)
    with torch.no_grad():
        (output,) = model([{"image": image}])
    assert output["instances"].pred_masks.shape == (1, 48, 64)


def test_copy_evidence_needs_a_forgery_fpn_backbone():
    with pytest.raises(ValueError, match="MODEL.COPY_EVIDENCE.ENABLED needs a backbone"):
        build_model(
            _cfg(
                "MODEL.BACKBONE.NAME",
                "build_resnet_fpn_backbone",
                "MODEL.RESNETS.DEPTH",
                "18",
                "MODEL.RESNETS.RES2_OUT_CHANNELS",
                "64",
            )
        )
