"""Prefect flows: thin layers over :mod:`erechnung.pipeline` (``flows.pipeline``), deployments with schedules
(``flows.deployments``, ``prefect.yaml``). Importing this package applies the offline settings
(:mod:`flows.settings`) before Prefect itself is imported."""
from . import settings

settings.apply()
