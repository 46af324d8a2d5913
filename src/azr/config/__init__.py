"""Run configuration. A config is built from the dataclass defaults (`schema`), then a YAML preset
(`configs/*.yaml`), then dotted command-line overrides (`selfplay.batch_size=4`) (`loading`). Every value is
validated when its dataclass is constructed, so a bad value fails before any model is loaded; the resolved config
is written to the run directory as YAML and loads back unchanged.
"""

from azr.config.loading import (
    config_from_dict,
    load_config,
    merge_overrides,
    parse_override,
    presets_dir,
    read_yaml,
    resolve_preset,
    save_config,
)
from azr.config.schema import (
    TASK_TYPES,
    AlgoConfig,
    Config,
    ConfigError,
    DistConfig,
    ExecutorConfig,
    ModelConfig,
    OptimConfig,
    OversightConfig,
    RolloutConfig,
    SelfPlayConfig,
    TrainerConfig,
)

__all__ = [
    "TASK_TYPES",
    "AlgoConfig",
    "Config",
    "ConfigError",
    "DistConfig",
    "ExecutorConfig",
    "ModelConfig",
    "OptimConfig",
    "OversightConfig",
    "RolloutConfig",
    "SelfPlayConfig",
    "TrainerConfig",
    "config_from_dict",
    "load_config",
    "merge_overrides",
    "parse_override",
    "presets_dir",
    "read_yaml",
    "resolve_preset",
    "save_config",
]
