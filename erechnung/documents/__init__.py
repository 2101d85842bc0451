"""Documents people read: PDF/A-3 letters in the municipality's design, hybrid invoices (ZUGFeRD/Factur-X).

``design``   the municipality's design system (design.toml, logo, texts), loaded and checked once per process
``pdfa``     reportlab canvas -> PDF/A-3b (fonts embedded, sRGB output intent, XMP, associated files)
``embed``    the invoice XML as associated file with the Factur-X XMP extension schema
``checks``   ``pdfa_problems(pdf_bytes)``: the PDF/A-3 properties that break in practice
``hybrid``   ``make_hybrid(invoice, profile)`` and ``extract_invoice_xml(pdf_bytes)``
``embedded`` ``extract_invoice(pdf_bytes)``: the invoice XML in a PDF from outside, read within limits
``layout``   ``paginate(blocks, ...)``: the body's blocks placed on pages, for invoices and notices alike
"""
