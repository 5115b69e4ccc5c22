"""Turn policy files (markdown, plain text, HTML) into documents with section paths, then chunks.

Two kinds of documents arrive here:

* Warden's own policies: YAML front matter (id, title, domain, version, effective, owner) and
  headings whose first token is the section id (`### HA-2.1 Dehumanising comparisons`).
* Documents no one here wrote (other platforms' guidelines, exported wiki pages): headings may be
  plain lines, bold lines, empty `###` markers followed by the real title, the same heading repeated
  under every policy ("Policy details"), very long lists, and navigation left over from the web
  page. Those get a heading path from their structure and a stable id derived from file + path.

Parsing never touches the index: `parse_file` either returns a `Document` or raises an error that
names the file, so the caller can validate everything before writing anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from warden.errors import InputError, PolicyError

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".docx", ".pdf"}
BINARY_SUFFIXES = {".docx", ".pdf"}  # read by knowledge.formats, not as text
REQUIRED_FRONT_MATTER = ("id", "title", "domain", "version", "effective", "owner")
MAX_FRONT_MATTER_CHARS = 4096  # a dozen metadata keys fit in a tenth of this

# Chunk sizes in characters. MiniLM reads at most 256 word pieces (~1,000 characters of English),
# so a chunk much longer than that is embedded from its first part only.
TARGET_CHARS = 850
MAX_CHARS = 1200
MIN_TAIL_CHARS = 250
MIN_WORDS = 6  # shorter passages are navigation left over from a web page
# Units (list items, sentence groups) a chunk is matched by; see `chunk_units`.
UNIT_CHARS = 400
UNIT_LEAD_CHARS = 300
MIN_UNIT_CHARS = 20

# Plain-line headings: a short standalone line without closing punctuation.
MAX_HEADING_CHARS = 90
MAX_HEADING_WORDS = 12
PLAIN_LEVEL = 7  # deeper than any markdown heading, so a real heading closes it
BOLD_LEVEL = 8  # a bold line under a plain-line heading is one level further down

SECTION_ID_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-?\d+(?:\.\d+)*$")
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)

# Whole paragraphs that are page furniture rather than policy text.
_NAV_RE = re.compile(
    r"^(?:change ?log|share this article|post|learn more|read more|see more|more information|"
    r"was this (?:article |page )?helpful\??|back to top|skip to (?:main )?content|print|"
    r"table of contents|on this page|yes|no|related (?:articles|links|policies)|"
    r"released .{3,40}?\beffective .{3,40})$",
    re.IGNORECASE,
)
# A heading that is only a date ("May 2024") marks when a page was updated, not a topic.
_DATE_RE = re.compile(
    r"^(?:(?:last )?updated:?\s*)?(?:"
    r"(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+)?"
    r"(?:\d{1,2},?\s+)?\d{4}|\d+ (?:year|month|week|day)s? ago)$",
    re.IGNORECASE,
)
# Headings whose whole section is page furniture.
_NAV_HEADING_RE = re.compile(
    r"^(?:share this article|related (?:articles|links)|was this (?:article )?helpful\??)$",
    re.IGNORECASE,
)


class FrontMatter(BaseModel):
    """Metadata every Warden policy document declares (extra keys are kept, not required)."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    domain: str
    version: str
    effective: str
    owner: str
    supersedes: str | None = None
    url: str | None = Field(None, description="where people read the published policy")
    aliases: str | None = Field(
        None, description="what users call the product or document, comma-separated (routing)"
    )


class Chunk(BaseModel):
    """One retrievable passage: the unit that is embedded, stored and cited."""

    model_config = ConfigDict(frozen=True)

    section_id: str
    title: str  # heading path, " > "-joined
    text: str
    source: str
    doc_key: str
    doc_title: str
    policy_id: str | None = None
    policy_version: str | None = None
    ordinal: int = 0  # position in the document, keeps listings in reading order
    url: str | None = None  # the published document (front matter `url`), for citation links
    # Names the document goes by (its url host, front-matter aliases, the sites it links to most),
    # space-separated; retrieval routes a question that names one to this document.
    doc_names: str = ""

    @property
    def embed_text(self) -> str:
        """The text the embedder and the lexical index see: where the passage sits, then it."""
        return f"{self.doc_title} | {self.title}\n{self.text}"

    @property
    def content_hash(self) -> str:
        """Stable id: equal inputs give equal ids, so re-ingest can skip unchanged chunks."""
        digest = hashlib.sha256()
        for part in (self.doc_key, self.section_id, self.title, self.text, self.source):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        if self.doc_names:  # only when present, so chunks without names keep their ids
            digest.update(self.doc_names.encode("utf-8"))
        return digest.hexdigest()[:32]


@dataclass
class Block:
    """A paragraph-level unit of a parsed file."""

    kind: Literal["heading", "para", "item", "break"]
    text: str = ""
    level: int = 0  # heading level, or list depth for items (0 = top level)
    bold_only: bool = False
    link_only: bool = False
    ordered_marker: str | None = None
    line: int = 0  # 1-based line in the body where known (markdown), else 0


@dataclass
class Section:
    """A heading path and the body blocks under it."""

    path: list[str]
    explicit_id: str | None
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """A parsed file: identity, metadata and sections in reading order."""

    path: Path
    source: str
    title: str
    slug: str
    front_matter: FrontMatter | None
    sections: list[Section]
    names: str = ""  # see `document_names`

    @property
    def policy_id(self) -> str | None:
        return self.front_matter.id if self.front_matter else None

    @property
    def policy_version(self) -> str | None:
        return self.front_matter.version if self.front_matter else None

    @property
    def doc_key(self) -> str:
        """What re-ingest replaces: one version of one policy, or one file."""
        if self.front_matter:
            return f"{self.front_matter.id}@{self.front_matter.version}"
        return self.source


# --------------------------------------------------------------------------- files


def iter_files(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """Expand files and folders into (file, source name) pairs, sorted for stable order.

    The source name is the path relative to the folder given (or the file name for a file), so
    ingesting the same folder from another checkout yields the same ids.
    """
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append((file, file.relative_to(path).as_posix()))
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise InputError(
                    f"{path}: unsupported file type {path.suffix!r}; "
                    f"use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}."
                )
            found.append((path, path.name))
        else:
            raise InputError(f"{path}: no such file or folder.")
    return found


def read_text(path: Path) -> str:
    """Read a file as UTF-8 text, refusing binary content with an error naming the file."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: looks like a binary file, not text; remove it or convert it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not valid UTF-8 text (byte {exc.start}); save it as UTF-8 and retry."
        ) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_file(path: Path, source: str | None = None) -> Document:
    """Parse one file into a `Document`; errors name the file and what to fix."""
    source = source or path.name
    suffix = path.suffix.lower()
    if suffix in BINARY_SUFFIXES:
        from knowledge.formats import docx_markdown, pdf_markdown

        text = docx_markdown(path) if suffix == ".docx" else pdf_markdown(path)
    else:
        text = read_text(path)
    front_matter, body = split_front_matter(text, path)
    if suffix in {".html", ".htm"}:
        blocks = html_blocks(body)
        if front_matter is None:
            front_matter, blocks = block_front_matter(blocks, path)
    elif suffix in {".txt", ".text"}:
        blocks = text_blocks(body)
    else:
        blocks = markdown_blocks(body)
    stem = path.stem
    if front_matter:
        first_body_line = text[: len(text) - len(body)].count("\n")
        if suffix in BINARY_SUFFIXES:  # lines of the converted text mean nothing to the reader
            for block in blocks:
                block.line = 0
        refuse_duplicate_ids(blocks, path, first_body_line)
        title = front_matter.title
        slug = front_matter.id
    else:
        title = stem
        slug = slugify(stem)
    sections = build_sections(blocks, with_ids=front_matter is not None)
    return Document(
        path=path,
        source=source,
        title=title,
        slug=slug,
        front_matter=front_matter,
        sections=sections,
        names=document_names(front_matter, text),
    )


_LINK_HOST_RE = re.compile(r"https?://([A-Za-z0-9.-]+)")
_SECOND_LEVEL = frozenset(["co", "com", "org", "net", "gov", "ac", "edu"])
MIN_LINKS = 2  # a site linked this often (or the most linked one) names the document


def host_label(host: str) -> str:
    """The name part of a host: help.instagram.com -> instagram, www.bbc.co.uk -> bbc."""
    labels = [label for label in host.lower().strip(".").split(".") if label]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        labels = labels[:-1]
    return labels[-2] if len(labels) >= 2 else (labels[0] if labels else "")


def document_names(front_matter: FrontMatter | None, text: str) -> str:
    """Names a document goes by, from the document itself: its `url` host, its front-matter
    `aliases`, and the sites it links to most (a platform's guidelines link to its own help
    pages). Lower-case words, space-separated; retrieval keeps those rare across documents."""
    names: list[str] = []
    if front_matter is not None:
        if front_matter.url:
            match = _LINK_HOST_RE.match(front_matter.url)
            if match:
                names.append(host_label(match.group(1)))
        if front_matter.aliases:
            names.extend(
                word
                for alias in front_matter.aliases.split(",")
                for word in re.findall(r"[a-z0-9]+", alias.lower())
            )
    counts: dict[str, int] = {}
    for host in _LINK_HOST_RE.findall(text):
        label = host_label(host)
        if label:
            counts[label] = counts.get(label, 0) + 1
    if counts:
        top = max(counts.values())
        names.extend(label for label, n in sorted(counts.items()) if n >= MIN_LINKS or n == top)
    return " ".join(dict.fromkeys(name for name in names if name))


def split_front_matter(text: str, path: Path) -> tuple[FrontMatter | None, str]:
    """Separate YAML front matter from the body; malformed front matter is a `PolicyError`."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        if text.startswith("---\n") and "\n---" not in text[4:]:
            raise PolicyError(f"{path}: front matter starts with '---' but is never closed.")
        return None, text
    data = load_front_matter_yaml(match.group(1), path)
    missing = [key for key in REQUIRED_FRONT_MATTER if data.get(key) in (None, "")]
    if missing:
        raise PolicyError(
            f"{path}: front matter is missing {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED_FRONT_MATTER)})."
        )
    clean: dict[str, Any] = {
        key: (value.isoformat() if isinstance(value, date) else value)
        for key, value in data.items()
    }
    for key in ("id", "version", "effective", "title", "domain", "owner"):
        clean[key] = str(clean[key]).strip()
    return FrontMatter.model_validate(clean), text[match.end() :]


def block_front_matter(blocks: list[Block], path: Path) -> tuple[FrontMatter | None, list[Block]]:
    """Front matter typed into a page (a wiki or Google Docs export): `---`, `key: value`
    paragraphs, `---` at the very start of the text."""
    if not blocks or blocks[0].kind != "para" or blocks[0].text != "---":
        return None, blocks
    for end, block in enumerate(blocks[1:41], start=1):
        if block.kind == "para" and block.text == "---":
            raw = "\n".join(b.text for b in blocks[1:end])
            front_matter, _ = split_front_matter(f"---\n{raw}\n---\n", path)
            return front_matter, blocks[end + 1 :]
    return None, blocks


def load_front_matter_yaml(raw: str, path: Path) -> dict[str, Any]:
    """Front matter as a flat mapping of scalars; refuses what could blow up or hide structure.

    YAML anchors and aliases let a few hundred bytes expand into gigabytes (a "billion laughs"),
    so any anchor or alias is refused before the document is composed, the text is capped at
    MAX_FRONT_MATTER_CHARS, and every value must be a scalar (front matter is metadata, never a
    nested structure).
    """
    if len(raw) > MAX_FRONT_MATTER_CHARS:
        raise PolicyError(
            f"{path}: front matter is {len(raw):,} characters; the limit is "
            f"{MAX_FRONT_MATTER_CHARS:,} (it holds a few metadata keys, not content)."
        )
    try:
        for event in yaml.parse(raw, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                line = mark.line + 2 if mark else 1  # +1 for 1-based, +1 for the opening '---'
                raise PolicyError(
                    f"{path}:{line}: front matter uses a YAML anchor or alias ('&' / '*'); "
                    "write every value out in full."
                )
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: front matter must be a YAML mapping of keys to values.")
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool | date):
            if value is None and isinstance(key, str):
                continue
            raise PolicyError(
                f"{path}: front matter {key!r} must be a single value (text, number or date), "
                f"not a {type(value).__name__}."
            )
    return data


# --------------------------------------------------------------------------- blocks


def markdown_blocks(text: str) -> list[Block]:
    """Markdown (CommonMark + tables) to blocks; lists become items with their depth."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    blocks: list[Block] = []
    list_stack: list[str] = []  # "ul" / "ol"
    item_marker: list[str | None] = []
    pending_item = False  # the next paragraph is the first line of a list item
    heading_level = 0
    heading_line = 0
    cells: list[str] = []
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_stack.append("ol" if kind == "ordered_list_open" else "ul")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_stack.pop()
        elif kind == "list_item_open":
            pending_item = True
            item_marker.append(f"{token.info}." if list_stack and list_stack[-1] == "ol" else None)
        elif kind == "list_item_close":
            if pending_item:  # empty item
                pending_item = False
            item_marker.pop()
        elif kind == "heading_open":
            heading_level = int(token.tag[1])
            heading_line = token.map[0] + 1 if token.map else 0
        elif kind == "hr":
            blocks.append(Block("break"))
        elif kind in ("tr_open",):
            cells = []
        elif kind == "tr_close":
            row = " | ".join(cell for cell in cells if cell)
            if row:
                blocks.append(Block("para", row))
        elif kind == "code_block":
            # Web exports indent whole sections (a list item opened by a blank line turns its
            # body into an "indented code block"); policy text is never code, so read it again.
            offset = token.map[0] if token.map else 0
            for inner in markdown_blocks(token.content):
                inner.line = inner.line + offset if inner.line else 0
                blocks.append(inner)
        elif kind == "fence":
            content = normalise_space(token.content)
            if content:
                blocks.append(Block("para", content))
        elif kind == "inline":
            parent = tokens[index - 1].type if index else ""
            plain, bold_only, link_only = inline_text(token.children or [])
            if parent == "heading_open":
                blocks.append(Block("heading", plain, level=heading_level, line=heading_line))
            elif parent in ("th_open", "td_open"):
                cells.append(plain)
            elif not plain:
                continue
            elif list_stack and pending_item:
                pending_item = False
                blocks.append(
                    Block(
                        "item",
                        plain,
                        level=len(list_stack) - 1,
                        bold_only=bold_only,
                        link_only=link_only,
                        ordered_marker=item_marker[-1] if item_marker else None,
                    )
                )
            elif list_stack:  # a later paragraph inside the same item: continue it
                blocks.append(Block("item", plain, level=len(list_stack), link_only=link_only))
            elif _UNDERLINE_RE.match(plain) and blocks and blocks[-1].kind == "para":
                # "Title", blank line(s), "=====": a setext heading broken by the export
                previous = blocks.pop()
                level = 1 if plain[0] == "=" else 2
                blocks.append(Block("heading", previous.text, level=level))
            else:
                blocks.append(Block("para", plain, bold_only=bold_only, link_only=link_only))
    return blocks


_UNDERLINE_RE = re.compile(r"^(?:={3,}|-{3,})$")


def inline_text(children: Sequence[Any]) -> tuple[str, bool, bool]:
    """Visible text of an inline run, whether it is all bold, and whether it is all link text."""
    parts: list[str] = []
    strong_depth = link_depth = 0
    plain_chars = bold_chars = link_chars = 0
    for child in children:
        kind = child.type
        if kind == "strong_open":
            strong_depth += 1
        elif kind == "strong_close":
            strong_depth -= 1
        elif kind == "link_open":
            link_depth += 1
        elif kind == "link_close":
            link_depth -= 1
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind in ("text", "code_inline"):
            content: str = child.content
            parts.append(content)
            visible = len(content.strip())
            plain_chars += visible
            if strong_depth:
                bold_chars += visible
            if link_depth:
                link_chars += visible
        elif kind == "html_inline":
            continue
        # images are dropped: their alt text is rarely more than a file name
    text = normalise_space("".join(parts))
    return text, bool(plain_chars) and bold_chars == plain_chars, link_chars == plain_chars


def html_blocks(text: str) -> list[Block]:
    """HTML to blocks: headings, paragraphs, list items (with depth), table rows; no page chrome."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(text)
    for selector in (*_CHROME, *_EXPORT_CHROME):
        for node in tree.css(selector):
            node.decompose()
    for anchor in tree.css("a[id^='cmnt']"):  # a Google Docs comment (its reference is a <sup>)
        comment = anchor.parent
        if comment is not None and comment.parent is not None and comment.parent.tag == "div":
            comment = comment.parent
        if comment is not None:
            comment.decompose()
    root = tree.body or tree.root
    blocks: list[Block] = []
    if root is None:
        return blocks
    # A Confluence export: the page title sits outside the page body, which is #main-content.
    page_body = tree.css_first("#main-content")
    if page_body is not None:
        title = tree.css_first("#title-text")
        if title is not None:
            heading = normalise_space(title.text()).split(" : ", 1)[-1]
            blocks.append(Block("heading", heading, level=1))
        root = page_body
    wanted = "h1, h2, h3, h4, h5, h6, p, li, tr, pre, blockquote, dt, dd, hr"
    # Google Docs' "Title" paragraph is the top heading, so its "Heading 1" sits below it.
    shift = 1 if root.css_first("p.title") is not None else 0
    for node in root.css(wanted):
        tag = node.tag
        # A <p> inside an <li> is part of that item; only the outermost block counts.
        if tag != "hr" and _has_block_ancestor(node, nested_items=tag == "li"):
            continue
        if tag == "hr":
            blocks.append(Block("break"))
            continue
        content = normalise_space(node.text(separator=" "))
        classes = (node.attributes.get("class") or "").split()
        if tag and tag[0] == "h" and tag[1:].isdigit():
            blocks.append(Block("heading", content, level=int(tag[1:]) + shift))
        elif not content:
            continue
        elif tag == "p" and "title" in classes:  # Google Docs' "Title" paragraph style
            blocks.append(Block("heading", content, level=1))
        elif tag == "li":
            depth = sum(1 for a in _ancestors(node) if a.tag in ("ul", "ol")) - 1
            # Google Docs exports nested lists as sibling lists classed lst-kix_<id>-<level>.
            parent_class = (node.parent.attributes.get("class") or "") if node.parent else ""
            nesting = re.search(r"\blst-kix_\w+-(\d+)\b", parent_class)
            depth = int(nesting.group(1)) if nesting else depth
            own = _own_item_text(node)
            blocks.append(Block("item", own or content, level=max(depth, 0)))
        elif tag == "tr":
            cells = [normalise_space(cell.text(separator=" ")) for cell in node.css("th, td")]
            blocks.append(Block("para", " | ".join(cell for cell in cells if cell)))
        else:
            strong = node.css_first("strong, b")
            bold_only = strong is not None and normalise_space(strong.text()) == content
            links = " ".join(normalise_space(a.text()) for a in node.css("a"))
            blocks.append(
                Block("para", content, bold_only=bold_only, link_only=links.strip() == content)
            )
    return blocks


_CHROME = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript")
# Confluence page exports: breadcrumbs, "Created by ..., last modified on ...", attachment lists,
# "Document generated by Confluence" footers. Google Docs exports: comment and footnote anchors.
_EXPORT_CHROME = (
    "#breadcrumb-section",
    ".page-metadata",
    ".pageSection",
    "#footer",
    "sup",
)


def _ancestors(node: Any) -> Iterable[Any]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _has_block_ancestor(node: Any, *, nested_items: bool) -> bool:
    # A nested <li> is an item of its own (one level deeper); anything else inside a block is
    # already part of that block's text.
    containers = {"p", "tr", "pre", "blockquote", "dt", "dd"} | (set() if nested_items else {"li"})
    return any(a.tag in containers for a in _ancestors(node))


def _own_item_text(node: Any) -> str:
    """The text of a list item without its nested lists (they become items of their own)."""
    clone_html = node.html or ""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    copy = HTMLParser(clone_html)
    item = copy.css_first("li")
    if item is None:
        return ""
    for nested in item.css("ul, ol"):
        nested.decompose()
    return normalise_space(item.text(separator=" "))


_TXT_ITEM_RE = re.compile(r"^(\s*)(?:[-*•·]|\d{1,3}[.)])\s+(.*)$")


def text_blocks(text: str) -> list[Block]:
    """Plain text to blocks: blank-line separated paragraphs, bullet or numbered lines as items."""
    blocks: list[Block] = []
    for raw_para in re.split(r"\n\s*\n", text):
        lines = [line.rstrip() for line in raw_para.split("\n") if line.strip()]
        if not lines:
            continue
        if all(set(line.strip()) <= set("-=*_ ") for line in lines):
            blocks.append(Block("break"))
            continue
        # "Title" underlined with === / --- is a heading, as in setext markdown.
        if len(lines) == 2 and set(lines[1].strip()) <= set("=-") and len(lines[1].strip()) >= 3:
            level = 1 if lines[1].strip()[0] == "=" else 2
            blocks.append(Block("heading", normalise_space(lines[0]), level=level))
            continue
        buffer: list[str] = []
        for line in lines:
            item = _TXT_ITEM_RE.match(line)
            if item:
                if buffer:
                    blocks.append(Block("para", normalise_space(" ".join(buffer))))
                    buffer = []
                depth = len(item.group(1).expandtabs(4)) // 2
                blocks.append(Block("item", normalise_space(item.group(2)), level=min(depth, 3)))
            elif blocks and blocks[-1].kind == "item" and not buffer and line[:1].isspace():
                blocks[-1].text = normalise_space(f"{blocks[-1].text} {line}")
            else:
                buffer.append(line)
        if buffer:
            blocks.append(Block("para", normalise_space(" ".join(buffer))))
    return blocks


# --------------------------------------------------------------------------- sections


def is_navigation(block: Block) -> bool:
    """Page furniture: link-only lines, "Share this article", release banners, "Change log"."""
    if block.kind not in ("para", "item"):
        return False
    if block.link_only or not any(ch.isalnum() for ch in block.text):
        return True
    return bool(_NAV_RE.match(block.text.strip(" *•:|")))


def looks_like_heading(block: Block, following: Block | None) -> bool:
    """A plain or bold line that titles what follows it.

    Short, at most a dozen words, no closing period / colon / semicolon, not starting in lower
    case, and followed by something (a heading, body text or a list), not by the end of a page.
    """
    if block.kind != "para" or following is None or following.kind == "break":
        return False
    text = block.text.strip()
    if not text or len(text) > MAX_HEADING_CHARS or len(text.split()) > MAX_HEADING_WORDS:
        return False
    if text[-1] in ".,:;!" or text[0].islower() or text[0] in "([\"'“*-" or " | " in text:
        return False  # (a " | " line is a table row)
    if text.endswith("?") and not block.bold_only and following.kind == "heading":
        return False
    # a short closing line ("Thanks for reading!") is prose if what follows is a heading of a page
    return any(ch.isalpha() for ch in text)


def build_sections(blocks: list[Block], *, with_ids: bool) -> list[Section]:
    """Group blocks under heading paths.

    Markdown headings close every deeper heading. Plain-line headings sit below the deepest
    markdown heading, bold-line headings below those. A page break (`---`) closes every heading,
    and a plain line right after it is the new page's title. With `with_ids`, a heading whose first
    token looks like `HA-2.1` gives its section that id.
    """
    body = [b for b in blocks if not is_navigation(b)]
    sections: list[Section] = []
    stack: list[tuple[int, str, str | None]] = []  # (level, title, explicit id)
    current = Section(path=[], explicit_id=None)
    sections.append(current)
    skip_level: int | None = None  # inside a furniture section ("Share this article")
    after_break = True
    bold_top = False  # the innermost open heading is a bold line

    def open_section(level: int, title: str, explicit: str | None) -> None:
        nonlocal current
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title, explicit))
        ids = [entry[2] for entry in stack if entry[2]]
        current = Section(path=[entry[1] for entry in stack], explicit_id=ids[-1] if ids else None)
        sections.append(current)

    index = 0
    while index < len(body):
        block = body[index]
        following = body[index + 1] if index + 1 < len(body) else None
        index += 1
        if block.kind == "break":
            stack.clear()
            current = Section(path=[], explicit_id=None)
            sections.append(current)
            skip_level = None
            after_break = True
            continue
        if block.kind == "heading":
            title = block.text.strip(" *#")
            if (
                not title
                and following is not None
                and following.kind == "para"
                and len(following.text) <= MAX_HEADING_CHARS
            ):
                # "###" on its own line with the title on the next line
                title = following.text.strip(" *")
                index += 1
            if not title:
                continue
            if skip_level is not None and block.level <= skip_level:
                skip_level = None
            if _DATE_RE.match(title):
                continue
            if _NAV_HEADING_RE.match(title):
                skip_level = block.level
                continue
            skip_level = None
            explicit, title = split_section_id(title) if with_ids else (None, title)
            open_section(block.level, title, explicit)
            bold_top = False
            after_break = False
            continue
        if skip_level is not None:
            continue
        if not with_ids and looks_like_heading(block, following):
            title = block.text.strip(" *")
            if _DATE_RE.match(title):
                continue
            top = stack[-1][0] if stack else 0
            if after_break and not stack:
                level = 1
            elif block.bold_only and top == PLAIN_LEVEL and not bold_top:
                level = BOLD_LEVEL  # a bold line under a plain-line heading
            elif block.bold_only and bold_top:
                level = top  # the next bold line is a sibling
            else:
                level = PLAIN_LEVEL
            open_section(level, title, None)
            bold_top = block.bold_only
            after_break = False
            continue
        after_break = False
        current.blocks.append(block)
    return [section for section in sections if section.blocks]


def refuse_duplicate_ids(blocks: list[Block], path: Path, line_offset: int) -> None:
    """Two headings with one section id would let the second (contradicting) clause be cited
    under the first one's id; refuse the file, naming both lines."""
    seen: dict[str, int] = {}
    for block in blocks:
        if block.kind != "heading":
            continue
        section_id, _ = split_section_id(block.text.strip(" *#"))
        if section_id is None:
            continue
        line = block.line + line_offset if block.line else 0
        if section_id in seen:
            where = f"{path}:{line}" if line else str(path)
            first = f" (first at line {seen[section_id]})" if seen[section_id] else ""
            raise PolicyError(
                f"{where}: section id {section_id} is used twice{first}; "
                "give every section its own id."
            )
        seen[section_id] = line


def split_section_id(title: str) -> tuple[str | None, str]:
    """`HA-2.1 Dehumanising comparisons` -> ("HA-2.1", "Dehumanising comparisons")."""
    first, _, rest = title.partition(" ")
    candidate = first.rstrip(":.")
    if SECTION_ID_RE.match(candidate):
        return candidate, rest.strip(" -–—:") or candidate
    return None, title


# --------------------------------------------------------------------------- chunks

# Bump when chunk_document's output changes for the same input: ingest stores it on the
# collection, and `warden doctor` then says the index needs `warden ingest`.
CHUNKER_VERSION = "2"


def chunk_document(doc: Document) -> list[Chunk]:
    """Cut every section into passages of readable size that keep their heading path."""
    chunks: list[Chunk] = []
    seen_paths: dict[str, int] = {}
    seen_texts: set[str] = set()
    for section in doc.sections:
        path = section.path or [untitled_title(section)]
        title = " > ".join(path)
        for text in split_section(section.blocks):
            # Web exports repeat whole blocks (a summary on every page); one copy is enough.
            # Bare navigation ("Introduction", "Our commitment to voice") carries no policy.
            if text in seen_texts or len(text.split()) < MIN_WORDS:
                continue
            seen_texts.add(text)
            if section.explicit_id:
                section_id = section.explicit_id
            else:
                path_slug = "/".join(slugify(part) for part in path) or "untitled"
                seen_paths[path_slug] = seen_paths.get(path_slug, 0) + 1
                prefix = doc.policy_id or doc.slug
                section_id = f"{prefix}:{path_slug}#{seen_paths[path_slug]}"
            chunks.append(
                Chunk(
                    section_id=section_id,
                    title=title,
                    text=text,
                    source=doc.source,
                    doc_key=doc.doc_key,
                    doc_title=doc.title,
                    policy_id=doc.policy_id,
                    policy_version=doc.policy_version,
                    ordinal=len(chunks),
                    url=doc.front_matter.url if doc.front_matter else None,
                    doc_names=doc.names,
                )
            )
    return chunks


_ITEM_LINE_RE = re.compile(r"^\s*(?:[-*]|\d+\.)\s")


def chunk_units(chunk: Chunk) -> list[str]:
    """The small passages a chunk is matched by: each list item and each sentence group.

    A chunk that packs a long list is embedded as a whole, and one item of it ("ivory", "pill
    presses") is a small part of that vector. Each unit is embedded on its own, with the chunk's
    heading path and the sentence that introduced its list, and points back to the chunk, which is
    what search returns (small-to-big). A chunk that is a single short passage has no units.
    """
    lines = [line.strip() for line in chunk.text.split("\n") if line.strip()]
    header = f"{chunk.doc_title} | {chunk.title}"
    units: list[str] = []
    lead: str | None = None
    for line in lines:
        is_item = bool(_ITEM_LINE_RE.match(line))
        if not is_item:
            lead = line.removesuffix(" (continued)") if len(line) <= UNIT_LEAD_CHARS else None
        for part in _sentence_groups(line):
            if len(part) < MIN_UNIT_CHARS:
                continue
            context = f"\n{lead}" if is_item and lead and not part.startswith(lead) else ""
            units.append(f"{header}{context}\n{part}")
    if len(units) == 1 and len(lines) == 1:
        return []  # the chunk itself
    return units


def _sentence_groups(line: str) -> list[str]:
    """A line as is, or an over-long one as runs of whole sentences of about UNIT_CHARS."""
    if len(line) <= UNIT_CHARS:
        return [line]
    groups: list[str] = []
    current = ""
    for sentence in re.split(r"(?<=[.!?;])\s+", line):
        if current and len(current) + len(sentence) > UNIT_CHARS:
            groups.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        groups.append(current)
    return groups


def untitled_title(section: Section) -> str:
    """A title for text with no heading: its first words (a page that starts without a title)."""
    first = section.blocks[0].text
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    words = sentence.split()
    return " ".join(words[:8]).rstrip(".,:;") + ("…" if len(words) > 8 else "")


def render_block(block: Block) -> str:
    if block.kind == "item":
        marker = block.ordered_marker or "-"
        return f"{'  ' * block.level}{marker} {block.text}"
    return block.text


def split_section(blocks: list[Block]) -> list[str]:
    """Pack a section's blocks into passages of about TARGET_CHARS.

    A list item stays with its nested items. When a long list continues into a new passage, the
    sentence that introduced the list ("We remove content that:") is repeated in front of it so
    the passage still reads on its own.
    """
    units: list[tuple[str, str | None]] = []  # (text, lead-in sentence of the list it belongs to)
    lead_in: str | None = None
    previous: Block | None = None
    for block in blocks:
        rendered = render_block(block)
        if block.kind == "item" and block.level > 0 and units:
            text, unit_lead = units[-1]
            units[-1] = (f"{text}\n{rendered}", unit_lead)
        elif block.kind == "item":
            if previous is not None and previous.kind == "para" and len(previous.text) <= 300:
                lead_in = previous.text
            elif previous is None or previous.kind != "item":
                lead_in = None
            units.append((rendered, lead_in))
        else:
            units.append((rendered, None))
        previous = block
    pieces: list[tuple[str, str | None]] = []
    for text, unit_lead in units:
        if len(text) <= MAX_CHARS:
            pieces.append((text, unit_lead))
        else:
            pieces.extend((part, unit_lead) for part in split_long(text))
    passages: list[str] = []
    current: list[str] = []
    size = 0
    continued = False  # `current` starts with a repeated lead-in line
    for text, unit_lead in pieces:
        if current and size + len(text) + 1 > TARGET_CHARS:
            passages.append("\n".join(current))
            current, size, continued = [], 0, False
            if unit_lead and unit_lead != text:
                current.append(f"{unit_lead} (continued)")
                size, continued = len(current[0]) + 1, True
        current.append(text)
        size += len(text) + 1
    if current:
        tail = "\n".join(current[1:] if continued and passages else current)
        if passages and len(tail) < MIN_TAIL_CHARS and len(passages[-1]) + len(tail) <= MAX_CHARS:
            passages[-1] = f"{passages[-1]}\n{tail}"
        else:
            passages.append("\n".join(current))
    return [passage.strip() for passage in passages if passage.strip()]


def split_long(text: str) -> list[str]:
    """Split an over-long paragraph at sentence ends (or lines) into pieces under TARGET_CHARS."""
    sentences = re.split(r"(?<=[.!?;])\s+|\n", text)
    parts: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > MAX_CHARS:  # one run-on "sentence": cut at a space
            cut = sentence.rfind(" ", 0, TARGET_CHARS)
            cut = cut if cut > 0 else TARGET_CHARS
            if current:
                parts.append(current)
                current = ""
            parts.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if current and len(current) + len(sentence) + 1 > TARGET_CHARS:
            parts.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        parts.append(current)
    return parts


# --------------------------------------------------------------------------- helpers


def normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].rstrip("-") or "section"
