"""``make demo`` (``python -m erechnung.entrypoints.demo``), in three parts: ``invoices`` (sample invoices built,
converted and validated), ``pipeline`` (the whole pipeline on the sample deliveries), ``delivery`` (what it handed
over delivered through the local sandboxes)."""
