"""The edge: what starts the work and wires it together. Nothing below imports from here.

``cli``      the ``erechnung`` command line, a module per command group (``erechnung.entrypoints.cli:main``)
``demo``     ``make demo`` (``python -m erechnung.entrypoints.demo``): sample invoices, the pipeline on the sample
             deliveries, delivery through the local sandboxes
``wiring``   the composition root: the delivery channels and the archive the configuration names
"""
