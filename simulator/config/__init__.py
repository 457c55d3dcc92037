"""Scenarios: the schema (:mod:`.schema`), the policy presets (:mod:`.presets`) and
loading files with ``extends`` and ``--set`` (:mod:`.loading`)."""

from ..state.vocabulary import CATEGORIES
from .loading import ScenarioError, load_scenario, parse_set, read_scenario, scenario_from_dict, to_toml
from .presets import POLICIES, POLICY_PRESETS, STYLE_KNOBS, centralization_preset
from .schema import (ActivityConfig, AdaptConfig, CategoriesConfig, CategoryConfig, CommerceConfig, CommissionSchedule, CreatorConfig,
                     EngagementConfig, GraphConfig, GroupConfig, MerchantConfig, MetricsConfig, PlatformConfig,
                     PopulationConfig, RelationshipConfig, Scenario, WeChatConfig)

__all__ = ["ActivityConfig", "AdaptConfig", "CATEGORIES", "ScenarioError", "load_scenario", "parse_set", "read_scenario", "scenario_from_dict", "to_toml",
           "POLICIES", "POLICY_PRESETS", "STYLE_KNOBS", "centralization_preset", "CategoriesConfig", "CategoryConfig",
           "CommerceConfig", "CommissionSchedule", "CreatorConfig", "EngagementConfig", "GraphConfig", "GroupConfig",
           "MerchantConfig", "MetricsConfig", "PlatformConfig", "PopulationConfig", "RelationshipConfig", "Scenario",
           "WeChatConfig"]
