"""Settings dataclasses keep their defaults equal to add_forgery_config's keys (one meaning each),
so code built without a config (benchmarks, library use) behaves like the YAML-driven tools."""
from detectron2.config import get_cfg

from forgery_d2 import add_forgery_config
from forgery_d2.evaluation.decision import DecisionRule
from forgery_d2.matching.matcher import MatcherParams


def test_dataclass_defaults_match_config_defaults():
    cfg = add_forgery_config(get_cfg())
    assert MatcherParams() == MatcherParams.from_config(cfg)
    assert DecisionRule() == DecisionRule.from_config(cfg)
