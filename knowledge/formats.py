"""Word and PDF policy files as markdown, so one parser gives every format its sections and ids.

A team's policies live in Word documents, exported PDFs and wiki pages as often as in markdown.
DOCX headings come from the paragraph styles (Title, Heading 1-9), list paragraphs from the list
styles or their numbering level; PDF headings from font size (text set larger than the body text,
levels by size), list items from their bullet or number. Both become the markdown the rest of
`knowledge.parsing` reads, front matter included: a policy whose first paragraphs are a `---`
block of `key: value` lines keeps its id, version and section ids whatever the file format.

Text PDFs only: a scanned PDF has no text layer and is refused with an error naming the file.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from warden.errors import InputError

# Lines that start like markdown syntax would change meaning; policy text is never markup.
_MARKUP_START = re.compile(r"^(?:#|[-*+>]\s|\d{1,3}[.)]\s|=+\s*$|-{3,}\s*$|\|)")
_BULLET = re.compile(r"^(?:[•●◦▪▫■□‣⁃–—\-*]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+")
HEADING_RATIO = 1.15  # PDF text this much larger than the body is a heading
FRONT_MATTER_KEY = re.compile(r"^[A-Za-z_][\w-]*:")


def _escape(text: str) -> str:
    return f"\\{text}" if _MARKUP_START.match(text) and text != "---" else text


def _with_front_matter(paragraphs: list[str]) -> list[str]:
    """Keep a leading `---` / `key: value` / `---` block together as YAML front matter lines."""
    if not paragraphs or paragraphs[0].strip() != "---":
        return paragraphs
    for end in range(1, min(len(paragraphs), 40)):
        line = paragraphs[end].strip()
        if line == "---":
            block = "\n".join(["---", *(p.strip() for p in paragraphs[1:end]), "---"])
            return [block, *paragraphs[end + 1 :]]
        if not FRONT_MATTER_KEY.match(line) and not line.startswith((" ", "-")):
            break
    return paragraphs


# --------------------------------------------------------------------------- DOCX


def docx_markdown(path: Path) -> str:
    """A .docx file as markdown: heading styles become headings, list paragraphs list items."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable Word (.docx) file: {exc}") from exc
    # With a Title paragraph, "Heading 1" sits one level under it (as `##` under `#`).
    shift = int(any(p.style is not None and p.style.name == "Title" for p in document.paragraphs))
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                text = " | ".join(dict.fromkeys(cell for cell in cells if cell))
                if text:
                    lines.append(_escape(text))
            continue
        text = " ".join(block.text.split())
        if not text:
            continue
        lines.append(_docx_paragraph(block, text, shift))
    return "\n\n".join(_with_front_matter(lines)) + "\n"


def _docx_paragraph(paragraph: Any, text: str, shift: int) -> str:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if style == "Title":
        return f"# {text}"
    heading = re.fullmatch(r"Heading (\d)", style)
    if heading:
        return f"{'#' * min(int(heading.group(1)) + shift, 6)} {text}"
    level = _docx_list_level(paragraph, style)
    if level is not None:
        marker = "1." if "Number" in style else "-"
        return f"{'   ' * level}{marker} {text}"
    runs = [run for run in paragraph.runs if run.text.strip()]
    if runs and all(run.bold for run in runs) and len(text) <= 90:
        return f"**{text}**"
    return _escape(text)


def _docx_list_level(paragraph: Any, style: str) -> int | None:
    """List depth (0 = top) for a list paragraph, None for any other paragraph."""
    props = paragraph._p.pPr
    numbering = props.numPr if props is not None else None
    if numbering is not None and numbering.ilvl is not None:
        return int(numbering.ilvl.val)
    match = re.fullmatch(r"List (?:Bullet|Number|Paragraph)(?: (\d))?", style)
    if match:
        return int(match.group(1) or 1) - 1
    return 0 if numbering is not None else None


# --------------------------------------------------------------------------- PDF


def pdf_markdown(path: Path) -> str:
    """A text PDF as markdown: lines set larger than the body text become headings."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfparser import PDFSyntaxError

    boxes: list[list[tuple[str, float, bool]]] = []
    try:
        # boxes_flow=None: boxes in top-to-bottom order, as a single-column policy reads
        for page in extract_pages(str(path), laparams=LAParams(boxes_flow=None)):
            for element in page:
                if isinstance(element, LTTextContainer):
                    box = [line for line in _pdf_lines(element) if line[0]]
                    if box:
                        boxes.append(box)
    except (PDFSyntaxError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a readable PDF: {exc}") from exc
    if not boxes:
        raise InputError(
            f"{path}: the PDF has no text layer (a scan?); export it as a text PDF or run OCR."
        )
    sizes: Counter[float] = Counter()
    for box in boxes:
        for text, size, _ in box:
            sizes[size] += len(text)
    body = sizes.most_common(1)[0][0]
    heading_sizes = sorted((s for s in sizes if s >= body * HEADING_RATIO), reverse=True)
    level_of = {size: min(index + 1, 6) for index, size in enumerate(heading_sizes)}
    front, boxes = _pdf_front_matter(boxes)
    paragraphs: list[str] = [front] if front else []
    for box in boxes:
        paragraphs.extend(_pdf_box(box, level_of))
    return "\n\n".join(paragraphs) + "\n"


def _pdf_front_matter(
    boxes: list[list[tuple[str, float, bool]]],
) -> tuple[str | None, list[list[tuple[str, float, bool]]]]:
    """A leading `---` ... `---` block of lines (across text boxes) as YAML front matter."""
    lines = [(b, i) for b, box in enumerate(boxes) for i in range(len(box))]
    if not lines or boxes[0][0][0] != "---":
        return None, boxes
    for n, (b, i) in enumerate(lines[1:41], start=1):
        if boxes[b][i][0] == "---":
            block = [boxes[bb][ii][0] for bb, ii in lines[1:n]]
            rest = [boxes[b][i + 1 :], *boxes[b + 1 :]]
            return "\n".join(["---", *block, "---"]), [box for box in rest if box]
    return None, boxes


def _pdf_lines(container: Any) -> Iterable[tuple[str, float, bool]]:
    """(text, font size, all bold) for each line of a text box."""
    from pdfminer.layout import LTChar, LTTextLine

    for line in container:
        if not isinstance(line, LTTextLine):
            continue
        chars = [c for c in line if isinstance(c, LTChar) and c.get_text().strip()]
        text = " ".join(line.get_text().split())
        if not chars:
            continue
        size = round(statistics.median(c.size for c in chars), 1)
        bold = all("bold" in str(c.fontname).lower() for c in chars)
        yield text, size, bold


def _pdf_box(box: list[tuple[str, float, bool]], level_of: dict[float, int]) -> list[str]:
    """One text box as markdown paragraphs: a heading, list items, or one paragraph."""
    out: list[str] = []
    current = ""
    for text, size, bold in box:
        if size in level_of:
            if current:
                out.append(current)
                current = ""
            if out and out[-1].startswith("#" * level_of[size] + " "):
                out[-1] = f"{out[-1]} {text}"  # a heading wrapped onto a second line
            else:
                out.append(f"{'#' * level_of[size]} {text}")
            continue
        bullet = _BULLET.match(text)
        if bullet:
            if current:
                out.append(current)
            marker = "1." if bullet.group(0).strip(" ().").isdigit() else "-"
            current = f"{marker} {text[bullet.end() :]}"
        elif current:
            current = f"{current} {text}"
        else:
            current = f"**{text}**" if bold and len(box) == 1 and len(text) <= 90 else text
            current = current if current.startswith("**") else _escape(current)
    if current:
        out.append(current)
    return out
