"""Policies in Word, PDF, Google Docs and Confluence exports: sections, ids, titles, versions.

The Word and PDF files are written by real writer libraries (python-docx, fpdf2) here, then read
back through Warden's own parser and ingest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from knowledge.parsing import chunk_document, parse_file
from warden.errors import InputError, PolicyError

FRONT = [
    "---",
    "id: ZZ",
    "title: Example Safety Policy",
    "domain: community",
    "version: 4",
    "effective: 2026-01-01",
    "owner: policy@example.test",
    "url: https://policies.example.test/zz",
    "---",
]
ITEMS = ["Threats to hurt a named person", "Calls to attack a group", "Praise for a recent attack"]


def _write_docx(path: Path, *, front: bool = True, duplicate: bool = False) -> Path:
    import docx

    document = docx.Document()
    if front:
        for line in FRONT:
            document.add_paragraph(line)
    document.add_paragraph("Example Safety Policy", style="Title")
    document.add_heading("ZZ-1 Scope", level=1)
    document.add_paragraph("This policy covers violent speech in posts, comments and messages.")
    document.add_heading("ZZ-1.1 Violating content", level=2)
    document.add_paragraph("We remove content that contains any of the following:")
    for item in ITEMS:
        document.add_paragraph(item, style="List Bullet")
    document.add_paragraph("including coded or emoji-only versions", style="List Bullet 2")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "First offence"
    table.rows[0].cells[1].text = "Removal and a warning"
    document.add_heading("ZZ-1.1 Again" if duplicate else "ZZ-2 Exceptions", level=1)
    document.add_paragraph("News reporting and condemnation of violence stay up with context.")
    document.save(str(path))
    return path


def _write_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in FRONT:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", size=20)
    pdf.cell(0, 12, "Example Safety Policy", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=15)
    pdf.cell(0, 10, "ZZ-1 Scope", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "This policy covers violent speech in posts, comments and messages.")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=13)  # a subsection: smaller than a section heading
    pdf.cell(0, 10, "ZZ-1.1 Violating content", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "We remove content that contains any of the following:")
    for item in ITEMS:
        pdf.cell(0, 6, f"- {item}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=15)
    pdf.cell(0, 10, "ZZ-2 Exceptions", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "News reporting and condemnation of violence stay up with context.")
    pdf.output(str(path))
    return path


def _sections(path: Path) -> dict[str, str]:
    return {chunk.section_id: chunk.text for chunk in chunk_document(parse_file(path))}


@pytest.mark.parametrize("writer", [_write_docx, _write_pdf], ids=["docx", "pdf"])
def test_policy_file_keeps_ids_titles_version_and_url(tmp_path: Path, writer: Any) -> None:
    path = writer(tmp_path / f"zz.{'docx' if writer is _write_docx else 'pdf'}")
    doc = parse_file(path)
    assert doc.front_matter is not None
    assert (doc.policy_id, doc.policy_version, doc.title) == ("ZZ", "4", "Example Safety Policy")
    chunks = chunk_document(doc)
    by_id = {chunk.section_id: chunk for chunk in chunks}
    assert set(by_id) == {"ZZ-1", "ZZ-1.1", "ZZ-2"}
    assert by_id["ZZ-1.1"].title == "Example Safety Policy > Scope > Violating content"
    listed = by_id["ZZ-1.1"].text
    assert all(f"- {item}" in listed for item in ITEMS), listed
    assert {chunk.url for chunk in chunks} == {"https://policies.example.test/zz"}


def test_docx_lists_nest_and_tables_become_rows(tmp_path: Path) -> None:
    text = _sections(_write_docx(tmp_path / "zz.docx"))["ZZ-1.1"]
    assert "  - including coded or emoji-only versions" in text
    assert "First offence | Removal and a warning" in text


def test_docx_without_front_matter_gets_paths_from_heading_styles(tmp_path: Path) -> None:
    doc = parse_file(_write_docx(tmp_path / "guide.docx", front=False))
    assert doc.front_matter is None
    titles = {chunk.title for chunk in chunk_document(doc)}
    assert "Example Safety Policy > ZZ-1 Scope > ZZ-1.1 Violating content" in titles


def test_duplicate_section_id_in_a_word_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"zz\.docx: section id ZZ-1\.1 is used twice"):
        parse_file(_write_docx(tmp_path / "zz.docx", duplicate=True))


def test_unreadable_word_and_pdf_files_are_named(tmp_path: Path) -> None:
    from fpdf import FPDF

    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match=r"broken\.docx: not a readable Word"):
        parse_file(broken)
    scan = tmp_path / "scan.pdf"
    pdf = FPDF()
    pdf.add_page()  # a page with no text layer, as a scan has
    pdf.output(str(scan))
    with pytest.raises(InputError, match=r"scan\.pdf: the PDF has no text layer"):
        parse_file(scan)


GOOGLE_DOCS = """<html><head><meta content="text/html; charset=UTF-8" http-equiv="content-type">
<style type="text/css">.c1{font-weight:700}.lst-kix_a1-0>li:before{content:"\\0025cf  "}</style>
</head><body class="c5 doc-content">
<p class="c3"><span class="c1">---</span></p><p class="c3"><span>id: ZZ</span></p>
<p class="c3"><span>title: Example Safety Policy</span></p><p class="c3"><span>domain: community</span></p>
<p class="c3"><span>version: 4</span></p><p class="c3"><span>effective: 2026-01-01</span></p>
<p class="c3"><span>owner: policy@example.test</span></p><p class="c3"><span>---</span></p>
<p class="c4 title" id="h.t1"><span class="c6">Example Safety Policy</span></p>
<h1 class="c2" id="h.a1"><span>ZZ-1 Scope</span></h1>
<p class="c3"><span>This policy covers violent speech in posts and messages.</span><sup><a href="#cmnt1" id="cmnt_ref1">[a]</a></sup></p>
<h2 class="c2" id="h.b2"><span>ZZ-1.1 Violating content</span></h2>
<p class="c3"><span>We remove content that contains any of the following:</span></p>
<ul class="c0 lst-kix_a1-0 start"><li class="c3 li-bullet-0"><span>Threats to hurt a named person</span></li></ul>
<ul class="c0 lst-kix_a1-1 start"><li class="c3 li-bullet-1"><span>including coded or emoji-only versions</span></li></ul>
<ul class="c0 lst-kix_a1-0"><li class="c3 li-bullet-0"><span>Calls to attack a group</span></li></ul>
<div><p class="c3"><a href="#cmnt_ref1" id="cmnt1">[a]</a><span>Legal: check wording</span></p></div>
</body></html>"""  # noqa: E501

CONFLUENCE = """<!DOCTYPE html><html><head><title>Trust &amp; Safety : Violent Speech</title></head>
<body class="theme-default aui-theme-default"><div id="page"><div id="main" class="aui-page-panel">
<div id="main-header"><div id="breadcrumb-section"><ol id="breadcrumbs">
<li class="first"><span><a href="index.html">Trust &amp; Safety</a></span></li>
<li><span><a href="Policies_1234.html">Policies</a></span></li></ol></div>
<h1 id="title-heading" class="pagetitle"><span id="title-text"> Trust &amp; Safety : Violent Speech </span></h1></div>
<div id="content" class="view"><div class="page-metadata">Created by Ana Reviewer, last modified on Jan 05, 2026</div>
<div id="main-content" class="wiki-content group">
<h2 id="ViolentSpeech-Scope">Scope</h2><p>This policy covers violent speech in posts, comments and messages.</p>
<h2 id="ViolentSpeech-Whatweremove">What we remove</h2>
<ul><li>Threats to hurt a named person<ul><li>including coded or emoji-only versions</li></ul></li>
<li>Calls to attack a group</li></ul>
<div class="table-wrap"><table class="confluenceTable"><tbody><tr><th class="confluenceTh">Offence</th>
<th class="confluenceTh">Action</th></tr><tr><td class="confluenceTd">First</td><td class="confluenceTd">Removal and a warning</td></tr></tbody></table></div>
</div><div class="pageSection group"><div class="pageSectionHeader"><h2 id="attachments" class="pageSectionTitle">Attachments:</h2></div>
<div class="greybox"><img src="images/icons/bullet_blue.gif"/><a href="attachments/1/flow.png">flow.png</a> (image/png)</div></div>
</div></div><div id="footer" role="contentinfo"><section class="footer-body">
<p>Document generated by Confluence on Jan 06, 2026 10:15</p><div id="footer-logo"><a href="https://www.atlassian.com/">Atlassian</a></div>
</section></div></div></body></html>"""  # noqa: E501


def test_google_docs_export_keeps_front_matter_title_and_list_levels(tmp_path: Path) -> None:
    path = tmp_path / "zz.html"
    path.write_text(GOOGLE_DOCS, encoding="utf-8")
    doc = parse_file(path)
    assert (doc.policy_id, doc.policy_version) == ("ZZ", "4")
    by_id = {chunk.section_id: chunk for chunk in chunk_document(doc)}
    assert set(by_id) == {"ZZ-1", "ZZ-1.1"}
    assert by_id["ZZ-1.1"].title == "Example Safety Policy > Scope > Violating content"
    assert "  - including coded or emoji-only versions" in by_id["ZZ-1.1"].text
    assert "[a]" not in by_id["ZZ-1"].text and "Legal: check wording" not in by_id["ZZ-1.1"].text


def test_confluence_export_drops_breadcrumbs_metadata_attachments_and_footer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "Violent-Speech_98765.html"
    path.write_text(CONFLUENCE, encoding="utf-8")
    chunks = chunk_document(parse_file(path))
    titles = [chunk.title for chunk in chunks]
    assert titles == ["Violent Speech > Scope", "Violent Speech > What we remove"]
    text = "\n".join(chunk.text for chunk in chunks)
    assert "  - including coded or emoji-only versions" in text
    assert "Offence | Action" in text and "First | Removal and a warning" in text
    for furniture in ("Created by", "Document generated", "Attachments", "flow.png", "Policies"):
        assert furniture not in text + "".join(titles), furniture


def test_a_folder_of_mixed_formats_is_ingested_and_searchable(
    tmp_path: Path, embedder: Any
) -> None:
    from knowledge.index import build_chroma_client, ingest
    from knowledge.retrieval import build_retriever
    from warden.settings import Settings

    folder = tmp_path / "docs"
    folder.mkdir()
    _write_docx(folder / "word.docx", front=False)
    _write_pdf(folder / "zz.pdf")
    (folder / "wiki.html").write_text(CONFLUENCE, encoding="utf-8")
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    client = build_chroma_client(settings)
    report = ingest([folder], settings=settings, client=client, embedder=embedder,
                    collection="formats")  # fmt: skip
    assert report.files == 3 and report.documents == 3
    retriever = build_retriever(settings, embedder=embedder, client=client, collection="formats")
    hits = retriever.search("is news about an attack allowed", 10, approved_only=False)
    pdf_hits = [hit for hit in hits if hit.source == "zz.pdf"]
    assert pdf_hits and pdf_hits[0].section_id == "ZZ-2" and pdf_hits[0].policy_version == "4"
    assert pdf_hits[0].url == "https://policies.example.test/zz"
