"""EPUB structure on books nobody tuned for: a nested NCX under a story, one XHTML file
split by fragment anchors under a nav four levels deep, two authors. The EPUBs are built
here, shaped like the real books the issue reports (see issue 13)."""

from __future__ import annotations

import io
import zipfile

from pipeline import structure
from pipeline.models import BlockKind, count_words
from pipeline.parse.epub import parse_epub
from pipeline.parse.html import clean_title

CONTAINER = """<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"""


def _xhtml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        f'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>x</title></head><body>{body}</body></html>'
    )


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        zf.writestr("META-INF/container.xml", CONTAINER)
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _prose_words(chapter) -> int:
    return sum(count_words(b.text) for b in chapter.blocks if b.kind is BlockKind.PARAGRAPH)


def _prose(seed: str, words: int) -> str:
    return " ".join(f"{seed}{i % 7}" for i in range(words)) + "."


# --- a story collection (EPUB 2, NCX) whose first story has numbered parts --------------

STORIES = [("The Monkey's Paw", ["I.", "II.", "III."]), ("The Well", []), ("Jerry Bundler", [])]


def _collection() -> bytes:
    items, spine, points, files = [], [], [], {}
    for n, (story, parts) in enumerate(STORIES):
        body = f"<h2>{story}</h2>"
        children = ""
        if parts:
            for k, part in enumerate(parts):
                body += f'<h3 id="part{k}">{part}</h3><p>{_prose(f"s{n}p{k}w", 300)}</p>'
                children += (
                    f'<navPoint id="s{n}p{k}"><navLabel><text>{part}</text></navLabel>'
                    f'<content src="story{n}.html#part{k}"/></navPoint>'
                )
        else:
            body += f"<p>{_prose(f's{n}w', 800)}</p>"
        files[f"OEBPS/story{n}.html"] = _xhtml(body)
        items.append(f'<item id="s{n}" href="story{n}.html" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="s{n}"/>')
        points.append(
            f'<navPoint id="s{n}"><navLabel><text>{story}</text></navLabel>'
            f'<content src="story{n}.html"/>{children}</navPoint>'
        )
    opf = f"""<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
<dc:title>The Lady of the Barge</dc:title><dc:creator opf:role="aut">W. W. Jacobs</dc:creator>
<dc:creator opf:role="aut">Louis N. Parker</dc:creator><dc:creator opf:role="ill">Maurice Greiffenhagen</dc:creator>
<dc:language>en</dc:language></metadata>
<manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>{"".join(items)}</manifest>
<spine toc="ncx">{"".join(spine)}</spine></package>"""
    ncx = (
        '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
        f"<navMap>{''.join(points)}</navMap></ncx>"
    )
    return _zip({"OEBPS/content.opf": opf, "OEBPS/toc.ncx": ncx, **files})


def test_nested_ncx_parts_stay_inside_their_story_by_default():
    book = parse_epub(_collection())
    assert [c.title for c in book.chapters] == ["The Monkey's Paw", "The Well", "Jerry Bundler"]
    paw = book.chapters[0]
    assert [b.text for b in paw.blocks if b.kind is BlockKind.HEADING] == ["I", "II", "III"]
    assert _prose_words(paw) == 900 and paw.preamble == ()
    assert [(s.level, s.title) for s in book.sections] == [
        (1, "The Monkey's Paw"), (2, "I"), (2, "II"), (2, "III"), (1, "The Well"), (1, "Jerry Bundler"),
    ]  # fmt: skip
    assert not any(c.title.startswith("Chapter") for c in book.chapters)


def test_nested_ncx_split_at_the_parts_names_them_after_the_story():
    book = parse_epub(_collection())
    info = structure.outline(book.sections)
    split = structure.apply_layout(book, structure.Layout(split_level=2))
    assert [c.title for c in split.chapters] == [
        "The Monkey's Paw — Part I", "The Monkey's Paw — Part II", "The Monkey's Paw — Part III",
        "The Well", "Jerry Bundler",
    ]  # fmt: skip
    assert structure.max_level(info) == 2 and structure.default_split_level(info) == 1
    assert [_prose_words(c) for c in split.chapters] == [300, 300, 300, 800, 800]


def test_two_authors_are_both_named_and_the_illustrator_is_not():
    assert parse_epub(_collection()).metadata.author == "W. W. Jacobs and Louis N. Parker"


# --- one XHTML file split by fragment anchors, nav four levels deep -------------------

NAV = [  # (level, id, label, words of its own text)
    (1, "book", "Stories Old and New", 0),
    (2, "part1", "Part One: Fairy Tales", 0),
    (3, "s11", "11. The Light Princess", 600),
    (3, "s12", "12. The Golden Key", 700),
    (3, "s13", "13. Fables from Aesop", 40),
    (4, "s13a", "The Fox and the Grapes", 120),
    (4, "s13b", "The Wind and the Sun", 130),
    (2, "part2", "Part Two: Legends", 0),
    (3, "s14", "14. Robin Hood", 500),
    (3, "s15", "15. King Arthur", 450),
]


def _nav_html(entries: list[tuple[int, str, str, int]]) -> str:
    """Nested ``ol``/``li`` for ``entries`` (depth-first, levels from 1)."""
    html, depth = "", 0
    for level, ident, label, _ in entries:
        if level > depth:
            html += "<ol>" * (level - depth)
        else:
            html += "</li>" + "</ol></li>" * (depth - level)
        html += f'<li><a href="stories.xhtml#{ident}">{label}</a>'
        depth = level
    return html + "</li>" + "</ol></li>" * (depth - 1) + "</ol>"


def _anthology() -> bytes:
    body = ""
    for level, ident, label, words in NAV:
        tag = f"h{min(level + 1, 6)}"
        text = f"<p>{_prose(ident, words)}</p>" if words else ""
        body += f'<section id="{ident}"><{tag}>{label.upper()}</{tag}>{text}</section>'
    opf = """<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Stories Old and New</dc:title>
<dc:creator id="c1">Anna Editor</dc:creator><meta refines="#c1" property="role">edt</meta>
<dc:creator id="c2">Ben Writer</dc:creator><dc:language>en</dc:language></metadata>
<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
<item id="t" href="stories.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="nav"/><itemref idref="t"/></spine></package>"""
    nav = _xhtml(f'<nav epub:type="toc"><h1>Contents</h1>{_nav_html(NAV)}</nav>')
    return _zip(
        {"OEBPS/content.opf": opf, "OEBPS/nav.xhtml": nav, "OEBPS/stories.xhtml": _xhtml(body)}
    )


def test_anchor_split_file_uses_the_level_of_the_numbered_items():
    book = parse_epub(_anthology())
    assert [s.level for s in book.sections] == [level for level, *_ in NAV]
    assert [c.title for c in book.chapters] == [
        "11. The Light Princess", "12. The Golden Key", "13. Fables from Aesop",
        "14. Robin Hood", "15. King Arthur",
    ]  # fmt: skip
    fables = book.chapters[2]
    assert _prose_words(fables) == 40 + 120 + 130  # the sub-tales are read inside it
    headings = [b.text for b in fables.blocks if b.kind is BlockKind.HEADING]
    assert headings == ["The Fox and the Grapes", "The Wind and the Sun"]


def test_parts_of_an_anthology_are_announced_before_their_first_selection():
    book = parse_epub(_anthology())
    first, legends = book.chapters[0], book.chapters[3]
    assert [b.text for b in first.preamble] == ["Stories Old and New", "Part One: Fairy Tales"]
    assert [b.text for b in legends.preamble] == ["Part Two: Legends"]
    assert not any("Part" in b.text for c in book.chapters for b in c.blocks)
    assert book.metadata.author == "Ben Writer"  # the editor is not the author


def test_toc_tree_of_the_anthology():
    tree = structure.toc_tree(structure.outline(parse_epub(_anthology()).sections))
    assert len(tree) == 1 and tree[0]["title"] == "Stories Old and New"
    assert tree[0]["words"] == sum(words for *_, words in NAV)
    part_one = tree[0]["children"][0]
    assert [n["title"] for n in part_one["children"]] == [
        "11. The Light Princess", "12. The Golden Key", "13. Fables from Aesop",
    ]  # fmt: skip
    assert part_one["children"][2]["words"] == 290
    assert [n["level"] for n in part_one["children"][2]["children"]] == [4, 4]


def test_numbered_titles_keep_their_number_and_capital():
    """'12. THE GOLDEN KEY' in a nav or heading is '12. The Golden Key', never
    '12 the Golden Key'; mixed case stays as printed."""
    assert clean_title("12. THE GOLDEN KEY", 1, False) == "12. The Golden Key"
    assert clean_title("12.  The Golden Key ", 1, False) == "12. The Golden Key"
    assert clean_title("XII. THE OLD MAN OF THE SEA", 1, False) == "XII. The Old Man of the Sea"
    assert clean_title("Down The Rabbit-Hole", 1, False) == "Down The Rabbit-Hole"
