"""The process-wide reportlab settings the documents rely on for their speed (see ``documents/pdfa.py``)."""
from __future__ import annotations

import io
import zlib

import pikepdf
from reportlab.lib import rl_accel
from reportlab.pdfbase import pdfdoc

from erechnung.documents import pdfa


def test_reportlabs_c_accelerators_are_installed():
    """Without the ``rl_accel`` wheel (reportlab's extra "accel") reportlab silently falls back to Python
    number formatting and string widths, about 5 ms more per PDF."""
    assert type(rl_accel.fp_str).__name__ == "builtin_function_or_method"
    assert type(rl_accel.instanceStringWidthTTF).__name__ == "builtin_function_or_method"


def test_streams_are_flate_compressed_at_the_quick_level_and_read_back(tmp_path):
    assert isinstance(pdfdoc.PDFZCompress, pdfa._QuickFlate)
    data = bytes(range(256)) * 64
    assert zlib.decompress(pdfdoc.PDFZCompress.encode(data)) == data
    canvas = pdfa.new_canvas(pdfa.DocumentInfo(title="Probe", author="Stadt Musterstadt"))
    fonts = pdfa.canvas_fonts(canvas)
    canvas.setFont(fonts.regular, 11)
    canvas.drawString(72, 720, "Gebührenbescheid über 1.234,56 €")
    canvas.showPage()
    pdf = pikepdf.open(io.BytesIO(pdfa.finish(pdfa.canvas_bytes(canvas), pdfa.DocumentInfo(
        title="Probe", author="Stadt Musterstadt"))))
    streams = [o for o in pdf.objects if isinstance(o, pikepdf.Stream)
               and "/FlateDecode" in str(o.get("/Filter", ""))]  # a name or reportlab's array of one
    assert len(streams) >= 2  # the page and the embedded font subset at least
    for stream in streams:
        assert stream.read_bytes()  # decodes
    font_files = [d.FontFile2 for d in (o for o in pdf.objects if isinstance(o, pikepdf.Dictionary))
                  if d.get("/Type") == "/FontDescriptor"]
    assert font_files and all(f.read_bytes()[:4] == b"\x00\x01\x00\x00" for f in font_files)  # TrueType
