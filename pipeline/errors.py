"""The error every configuration check raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range; the message names the key."""
