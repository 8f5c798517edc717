"""The names of a workspace's files and its format number (standard library only, so that
opening a workspace and finding a cached figure import nothing heavy)."""

CONFIG_FILE = "retentio.toml"
ANALYTICS_FILE = "analytics.duckdb"
APP_DB_FILE = "app.sqlite"
# Bumped whenever the on-disk layout of a workspace changes; see retentio.workspace.upgrade.
SCHEMA_VERSION = 2

__all__ = ["ANALYTICS_FILE", "APP_DB_FILE", "CONFIG_FILE", "SCHEMA_VERSION"]
