"""Prefect flows: thin layers over :mod:`erechnung.pipeline` (``flows.pipeline``) and :mod:`erechnung.delivery`
(``flows.delivery``), deployments with schedules (``flows.deployments``, ``prefect.yaml``). Importing changes
nothing: whoever starts a flow applies the offline settings (:func:`flows.settings.apply`) before Prefect is
imported (the command line, ``python -m flows.deployments``, the flow modules run as scripts).
"""
