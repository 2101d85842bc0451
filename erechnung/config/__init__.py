"""The configuration every layer reads: the municipality's ``config.toml`` (``app``), the delivery channels'
settings (``channels``), locations and the database (``locations``), the limits on untrusted input (``limits``),
the design folder (``design``), and how mistakes in any of it are told (``problems``).

    config = load_config("config.toml")                  # every mistake at once (ConfigError.problems)
    dep = config.department("standesamt")
    database_url(config), location_url(config, dep.drop_zone)

It imports only the bottom layer (``errors``, ``model``, ``artifacts``): the layers above check and use what it
holds.
"""
from .app import Config, Department, Municipality, load_config, parse_config
from .locations import Location, database_url, location_url, parse_location
from .problems import ConfigError, ConfigProblem

__all__ = ["Config", "ConfigError", "ConfigProblem", "Department", "Location", "Municipality", "database_url",
           "load_config", "location_url", "parse_config", "parse_location"]
