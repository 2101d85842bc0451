"""The layout engine of the letters (invoices and notices): the body as a list of blocks of known height, placed on
pages before anything is drawn, so that the page count is known for "Seite x von y".

``paginate(blocks, first_top, next_top, bottom)`` gives, per page, ``[(top y, block)]``:

* a block that does not fit moves to the next page, together with the block before it when that one is to be
  kept with it (``keep_with_next``: a heading stays with what follows);
* a block that starts a page gets its table's header again above it (``header``);
* at the end of a page a block is split where it can be (``split``) when it may break there (``breakable``: a
  paragraph breaks between its lines) or when it is longer than a whole page (a line item with a long
  description); otherwise it moves whole;
* a block longer than a page is split across as many pages as it needs, never dropped and never drawn over the
  bottom margin: with its own ``split`` where it has one (with less than the page's room where its rules refuse
  the whole room), else cut at the page's bottom (``slice_block``), what is cut off drawn again at the top of the
  next page.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportlab.pdfgen.canvas import Canvas

#: Below this much room left on a page a block is not split there but moves to the next page (three lines).
MIN_SPLIT_ROOM = 3 * 11.5


@dataclass
class Block:
    """A piece of the body: its height and how to draw it with its top at y."""

    height: float
    draw: Callable[[Canvas, float], None]
    keep_with_next: bool = False
    split: Callable[[float], tuple["Block", "Block"] | None] | None = None  # (what fits in the room, the rest)
    header: "Block | None" = None  # drawn again above this block when it starts a page (a table's header)
    breakable: bool = False  # may be split at a page's end even when it would fit on the next page whole


Placed = list[tuple[float, Block]]


def slice_block(block: Block, room: float) -> tuple[Block, Block]:
    """``block`` cut at ``room`` below its top: the first part draws the block clipped to its top ``room``, the
    rest draws it shifted up by ``room``, clipped to what is left. For blocks that cannot split themselves."""

    def clipped(shift: float, height: float) -> Callable[[Canvas, float], None]:
        def draw(canvas: Canvas, y: float) -> None:
            canvas.saveState()
            path = canvas.beginPath()
            path.rect(0, y - height, canvas._pagesize[0], height)
            canvas.clipPath(path, stroke=0, fill=0)
            block.draw(canvas, y + shift)
            canvas.restoreState()
        return draw

    def part(shift: float, height: float) -> Block:
        return Block(height, clipped(shift, height), header=block.header,
                     split=lambda r: (part(shift, r), part(shift + r, height - r)) if 0 < r < height else None)

    return part(0, room), part(room, block.height - room)


def _own_split(block: Block, room: float) -> tuple[Block, Block] | None:
    """The block's own split of a page's ``room``, or of less room where its own rules (no single line left
    behind) refuse the whole; None when it has none that makes progress."""
    for share in (1, 0.75, 0.5):
        parts = block.split(room * share) if block.split else None
        if parts is not None and parts[0].height > 0 and parts[1].height < block.height:
            return parts
    return None


def paginate(blocks: Sequence[Block], first_top: float, next_top: float, bottom: float,
             min_split_room: float = MIN_SPLIT_ROOM) -> list[Placed]:
    """Blocks placed on pages: [(top y, block)] per page (see the module docstring)."""
    pages: list[Placed] = [[]]
    y = first_top

    def new_page(block: Block) -> float:
        pages.append([])
        top = next_top
        if block.header is not None:
            pages[-1].append((top, block.header))
            top -= block.header.height
        return top

    queue = deque(blocks)
    while queue:
        block = queue.popleft()
        need = block.height + (queue[0].height if block.keep_with_next and queue else 0)
        if y - need < bottom and pages[-1]:
            room = y - bottom
            whole_page = next_top - bottom - (block.header.height if block.header is not None else 0)
            may_break = (block.breakable and not block.keep_with_next) or block.height > whole_page
            parts = block.split(room) if block.split and may_break and room > min_split_room else None
            if parts is not None:
                pages[-1].append((y, parts[0]))
                block = parts[1]
            y = new_page(block)
        while block.height > y - bottom > 0:  # longer than what is left of an empty page
            room = y - bottom
            parts = _own_split(block, room) or slice_block(block, room)
            pages[-1].append((y, parts[0]))
            block = parts[1]
            y = new_page(block)
        pages[-1].append((y, block))
        y -= block.height
    return pages
