"""FusionRCNN: fusion modes, configs end to end on CPU, plain R-CNN checkpoints load."""

import dataclasses
import glob
import os

import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances

from forgery_d2.config import add_forgery_config, get_forgery_cfg
from forgery_d2.data.synthetic.copy_move import plant_copy_move
from forgery_d2.modeling.meta_arch.fusion import (
    FROM_BOTH,
    FROM_MATCHER,
    FROM_NETWORK,
    FusionRCNN,
    FusionRule,
    fuse_instances,
    fused_image_score,
    verified_scores,
)

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs", "fusion")
SIZE = (40, 60)


def _instances(boxes, scores, dtype=torch.bool):
    """Instances with rectangular masks (x0, y0, x1, y1) in the given mask convention."""
    masks = torch.zeros((len(boxes), *SIZE), dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        masks[i, y0:y1, x0:x1] = True
    result = Instances(SIZE)
    result.pred_masks = masks if dtype == torch.bool else masks.to(torch.uint8) * 200
    result.scores = torch.tensor(scores, dtype=torch.float32)
    result.pred_classes = torch.zeros(len(boxes), dtype=torch.int64)
    result.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    return result


def _rule(mode, **changes):
    """The configured fusion rule (forgery_d2/config.py defaults) in ``mode``, with ``changes``."""
    return dataclasses.replace(FusionRule.from_config(get_forgery_cfg()), mode=mode, **changes)


NETWORK = [(0, 0, 10, 10), (30, 20, 50, 35)]
MATCHER = [(1, 0, 10, 10), (12, 12, 20, 20)]


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8])
def test_union_merges_overlaps_and_adds_new(dtype):
    fused = fuse_instances(
        _instances(NETWORK, [0.3, 0.6], dtype), _instances(MATCHER, [0.9, 0.8]), _rule("union")
    )
    assert len(fused) == 3
    assert fused.pred_masks.dtype == dtype
    assert fused.scores.tolist() == pytest.approx([0.9, 0.8, 0.6])  # sorted; merged keeps the max
    assert fused.pred_sources.tolist() == [FROM_BOTH, FROM_MATCHER, FROM_NETWORK]
    assert fused.pred_boxes.tensor[1].tolist() == [12, 12, 20, 20]


def test_boost_rescored_network_only():
    fused = fuse_instances(
        _instances(NETWORK, [0.4, 0.6]),
        _instances(MATCHER, [0.9, 0.8]),
        _rule("boost", boost=0.5, penalty=0.5),
    )
    assert len(fused) == 2
    assert sorted(fused.scores.tolist()) == pytest.approx([0.3, 0.7])  # 0.6 * 0.5, 0.4 + 0.5 * 0.6


def test_one_view_kept_where_the_other_fires():
    network, matcher = _instances(NETWORK, [0.4, 0.6]), _instances(MATCHER, [0.9, 0.8])
    nothing = _instances([], [])
    assert len(fuse_instances(network, matcher, _rule("network_if_matcher"))) == 2
    assert len(fuse_instances(network, nothing, _rule("network_if_matcher"))) == 0
    gated = fuse_instances(network, matcher, _rule("matcher_if_network", network_score_thresh=0.5))
    assert gated.pred_sources.tolist() == [FROM_MATCHER, FROM_MATCHER]
    assert (
        len(fuse_instances(network, matcher, _rule("matcher_if_network", network_score_thresh=0.7)))
        == 0
    )


def _logit(p):
    return float(np.log(p / (1 - p)))


def _sigmoid(x):
    return float(1 / (1 + np.exp(-x)))


def test_verify_and_add_rescores_matcher_by_network_support_and_adds_network_finds():
    probability = torch.full((2, *SIZE), 51, dtype=torch.uint8)  # 0.2 forged everywhere...
    # ...0.8 over a blob holding the first matcher instance (mask IoU 0.225, but all of it inside)...
    probability[0, 0:10, 0:40] = 204
    probability[1, 20:35, 30:50] = 204  # ...and over something the matcher missed
    network = Instances(SIZE)
    network.pred_masks, network.scores = probability, torch.tensor([0.75, 0.7])
    fused = fuse_instances(
        network, _instances(MATCHER, [0.9, 0.8]), _rule("verify_and_add", verify_weight=0.5)
    )
    # Log-odds add: support 0.8 raises the first matcher instance, support 0.2 lowers the second.
    # The blob is the first matcher instance's find (not reported again), the other one is added.
    first = _sigmoid(_logit(0.9) + 0.5 * _logit(0.8))
    second = _sigmoid(_logit(0.8) + 0.5 * _logit(0.2))
    assert fused.scores.tolist() == pytest.approx([first, 0.7, second], abs=1e-5)
    assert fused.pred_sources.tolist() == [FROM_BOTH, FROM_NETWORK, FROM_BOTH]
    assert fused.pred_masks.dtype == torch.uint8 and int(fused.pred_masks[0].max()) == 255
    assert fused_image_score(
        "verify_and_add", 0.7, fused, _instances(MATCHER, [0.9, 0.8])
    ) == pytest.approx(first, abs=1e-5)
    alone = fuse_instances(network, _instances([], []), _rule("verify_and_add"))
    assert alone.scores.tolist() == pytest.approx([0.75, 0.7])
    assert alone.pred_sources.tolist() == [FROM_NETWORK, FROM_NETWORK]


def test_a_weak_verifier_does_not_overrule_a_verified_copy():
    """The network's support moves a matcher score in log-odds: a copy verified at 0.99 that the
    network does not see stays near 0.99 (a weighted mean gave 0.70 and lost it under the image
    threshold), while a weak candidate the network contradicts still falls."""
    scores = torch.tensor([0.99, 0.6, 0.7, 0.7, 1.0])
    support = torch.tensor([0.4, 0.1, 0.5, 0.9, 0.0])
    verified = verified_scores(scores, support, 0.5)
    assert verified[0] > 0.98
    assert verified[1] < 0.4
    assert verified[2] == pytest.approx(0.7)  # support 0.5: no evidence either way
    assert verified[3] > 0.8
    assert 0.5 < verified[4] < 1  # clamped: neither view's evidence is infinite
    assert torch.allclose(verified_scores(scores, support, 0.0), scores.clamp(max=1 - 1e-4))


def test_unknown_mode_and_size_mismatch_are_clear_errors():
    with pytest.raises(ValueError, match="MODEL.FUSION.MODE"):
        _rule("vote")
    other = Instances((10, 10))
    other.pred_masks = torch.zeros((0, 10, 10), dtype=torch.bool)
    other.scores = torch.zeros(0)
    with pytest.raises(ValueError, match="image sizes"):
        fuse_instances(_instances(NETWORK, [0.4, 0.6]), other, _rule("union"))


def _fusion_cfg(path):
    cfg = add_forgery_config(get_cfg())
    cfg.merge_from_file(path)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.RPN.POST_NMS_TOPK_TEST = 50
    return cfg


def _textured_input():
    rng = np.random.default_rng(0)
    image = cv2_blur(rng.integers(0, 255, (128, 160), dtype=np.uint8))
    forged, event = plant_copy_move(image, (8, 8, 48, 48), (100, 70))
    rgb = np.repeat(forged[:, :, None], 3, axis=2)
    tensor = torch.as_tensor(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
    return {"image": tensor, "height": 256, "width": 320}, event


def cv2_blur(image):
    import cv2

    return cv2.GaussianBlur(image, (3, 3), 0.8)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(CONFIGS, "quick_*.yaml"))))
def test_fusion_configs_run_end_to_end(path):
    cfg = _fusion_cfg(path)
    torch.manual_seed(0)
    model = build_model(cfg)
    assert isinstance(model, FusionRCNN) and model.rule.mode == cfg.MODEL.FUSION.MODE
    model.eval()
    inputs, _ = _textured_input()
    with torch.no_grad():
        (output,) = model([inputs])
    instances = output["instances"]
    assert instances.image_size == (256, 320)
    assert instances.pred_masks.shape[1:] == (256, 320)
    assert {"scores", "pred_boxes", "pred_classes", "pred_sources"} <= set(instances.get_fields())
    if cfg.MODEL.FUSION.MODE == "union":
        # The matcher finds the planted copy and union always reports it, whatever the network says.
        assert (instances.pred_sources != FROM_NETWORK).any()


def test_fusion_trains_the_network_part():
    cfg = _fusion_cfg(os.path.join(CONFIGS, "quick_union.yaml"))
    model = build_model(cfg)
    model.train()
    inputs, event = _textured_input()
    target = Instances((128, 160))
    ys, xs = np.nonzero(event.mask)
    target.gt_boxes = Boxes(
        torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=torch.float32)
    )
    target.gt_classes = torch.zeros(1, dtype=torch.int64)
    from detectron2.structures import BitMasks

    target.gt_masks = BitMasks(torch.from_numpy(event.mask.astype(bool))[None])
    inputs = dict(inputs, instances=target, label=1)
    from detectron2.utils.events import EventStorage

    with EventStorage(0):
        losses = model([inputs])
    assert {"loss_cls", "loss_mask"} <= set(losses)
    sum(losses.values()).backward()
    assert any(p.grad is not None for p in model.rcnn.parameters())


def test_plain_rcnn_checkpoint_loads_into_fusion(tmp_path):
    cfg = _fusion_cfg(os.path.join(CONFIGS, "quick_union.yaml"))
    plain_cfg = cfg.clone()
    plain_cfg.MODEL.META_ARCHITECTURE = cfg.MODEL.FUSION.RCNN_META_ARCHITECTURE
    torch.manual_seed(1)
    plain = build_model(plain_cfg)
    DetectionCheckpointer(plain, save_dir=str(tmp_path)).save("plain")
    torch.manual_seed(2)
    fusion = build_model(cfg)
    key = next(k for k in plain.state_dict() if k.endswith("weight"))
    assert not torch.equal(fusion.rcnn.state_dict()[key], plain.state_dict()[key])
    DetectionCheckpointer(fusion).load(str(tmp_path / "plain.pth"))
    for name, value in plain.state_dict().items():
        assert torch.equal(fusion.rcnn.state_dict()[name], value), name
    # A FusionRCNN checkpoint (keys already under rcnn.) round-trips too.
    DetectionCheckpointer(fusion, save_dir=str(tmp_path)).save("fusion")
    torch.manual_seed(3)
    again = build_model(cfg)
    DetectionCheckpointer(again).load(str(tmp_path / "fusion.pth"))
    assert torch.equal(again.rcnn.state_dict()[key], plain.state_dict()[key])


def test_network_sees_its_test_size_while_the_matcher_sees_the_original():
    """Fusion configs pass original images (INPUT.MIN_SIZE_TEST 0): the network gets a copy resized
    to MODEL.FUSION.RCNN_MIN/MAX_SIZE_TEST, the matcher the image itself; outputs at height/width."""
    cfg = _fusion_cfg(os.path.join(CONFIGS, "quick_union.yaml"))
    assert cfg.INPUT.MIN_SIZE_TEST == 0 and cfg.MODEL.FUSION.RCNN_MIN_SIZE_TEST > 0
    cfg.MODEL.FUSION.RCNN_MIN_SIZE_TEST, cfg.MODEL.FUSION.RCNN_MAX_SIZE_TEST = 64, 100
    model = build_model(cfg).eval()
    seen = {}

    def record(name):
        def hook(module, args):
            seen[name] = args[0][0]["image"].shape  # returns None: the inputs stay as they are

        return hook

    model.rcnn.register_forward_pre_hook(record("rcnn"))
    model.copy_move.register_forward_pre_hook(record("matcher"))
    inputs, _ = _textured_input()  # 128 x 160 image, original size 256 x 320
    with torch.no_grad():
        (output,) = model([inputs])
    assert tuple(seen["matcher"]) == (3, 128, 160)
    assert tuple(seen["rcnn"]) == (3, 64, 80)  # shortest edge 64, aspect ratio kept
    assert output["instances"].image_size == (256, 320)


@pytest.mark.parametrize("mode", ["verify_and_add", "union", "matcher_if_network"])
def test_fused_matcher_instances_keep_their_source_copy_and_transform(mode):
    """The analyst's report needs the matcher's pairs through the fusion (issue 13)."""
    matcher = _instances(MATCHER, [0.9, 0.8])
    matcher.pred_source_masks = torch.zeros((2, *SIZE), dtype=torch.bool)
    matcher.pred_copy_masks = torch.zeros((2, *SIZE), dtype=torch.bool)
    for k in range(2):  # each instance's mask: its left half the source, right half the copy
        x0, y0, x1, y1 = (int(v) for v in MATCHER[k])
        matcher.pred_source_masks[k, y0:y1, x0 : (x0 + x1) // 2] = True
        matcher.pred_copy_masks[k, y0:y1, (x0 + x1) // 2 : x1] = True
    matcher.pred_transforms = torch.tensor([[[1.0, 0, 5], [0, 1, 0]], [[-1.0, 0, 9], [0, 1, 2]]])
    matcher.pred_evidence = [{"method": "keypoint", "inliers": 9}, {"method": "grain", "votes": 7}]
    probability = torch.zeros((1, *SIZE), dtype=torch.uint8)
    probability[0, 20:35, 30:50] = 255  # a find of the network alone (no pair behind it)
    network = Instances(SIZE)
    network.pred_masks, network.scores = probability, torch.tensor([0.99])
    fused = fuse_instances(network, matcher, _rule(mode, network_score_thresh=0.5))
    methods = [e["method"] for e in fused.pred_evidence]
    assert {"keypoint", "grain"} <= set(methods)
    for k, method in enumerate(methods):
        if method == "network":
            assert not fused.pred_source_masks[k].any() and not fused.pred_copy_masks[k].any()
            continue
        j = 0 if method == "keypoint" else 1
        assert torch.equal(fused.pred_source_masks[k], matcher.pred_source_masks[j])
        assert torch.equal(fused.pred_copy_masks[k], matcher.pred_copy_masks[j])
        assert torch.equal(fused.pred_transforms[k], matcher.pred_transforms[j])
