"""validators: the KoSIT-equivalent validation of e-invoices, driven by the installed ``scenarios.xml``.

- ``validators.engine``: ``Validator.for_bundle()``, ``Validator.validate(data, name) -> ValidationResult``,
  ``validate_file(path)``
- ``validators.scenarios``: scenarios.xml read into frozen objects; scenario selection
- ``validators.steps``: the XML Schema and Schematron steps
- ``validators.xmlsafe``: the gate for untrusted input (no DTD, no network, size and depth limits)
- ``validators.varl``: the KoSIT VARL report and the KoSIT report input
- ``validators.report``: HTML per document, run summary, ``write_reports(results, report_dir)``
- ``validators.runtime``: the per-process Saxon processor and compiled stylesheets/schemas

Nothing is imported here, so ``import validators`` stays cheap and starts no Saxon.
"""
