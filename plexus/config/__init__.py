"""The YAML config: its schemas, loading with `${ENV}` references, the frozen types the gateway
reads, edits that keep a person's comments, and hot reload.

The public names are here: `from plexus.config import load_config, ConfigError, ConfigWatcher`."""

from .load import DEFAULT_PATH, ConfigError, config_path, file_stamp, load_config, parse_config
from .schema import PROVIDER_TYPES, SELECTORS
from .types import Alias, ClientKey, Config, CooldownPolicy, Failover, Limits, Pricing, Provider, Target
from .watch import ConfigWatcher

__all__ = [
    "DEFAULT_PATH", "PROVIDER_TYPES", "SELECTORS", "Alias", "ClientKey", "Config", "ConfigError", "ConfigWatcher",
    "CooldownPolicy", "Failover", "Limits", "Pricing", "Provider", "Target", "config_path", "file_stamp", "load_config",
    "parse_config",
]
