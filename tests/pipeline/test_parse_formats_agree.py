"""The same book in several formats gives the same tracks, title, author and words
(issue 13: a DOCX made by LibreOffice from PG HTML and a PDF made from a DOCX must agree
with the book's EPUB/TXT)."""

from __future__ import annotations

import pytest

from pipeline.parse import parse_file

SAME_BOOK = [
    (
        "epub/frankenstein_pg84-epub2.epub",
        "docx/frankenstein_pg84_pandoc.docx",
        "pdf/frankenstein_pg84_libreoffice.pdf",
    ),
    ("text/the-devils-dictionary_pg972.txt", "docx/the-devils-dictionary_pg972_libreoffice.docx"),
]


@pytest.mark.parametrize("files", SAME_BOOK, ids=lambda files: files[0].split("/")[1])
def test_formats_of_one_book_agree(corpus, files):
    books = [parse_file(corpus / name) for name in files]
    first = books[0]
    for name, book in zip(files[1:], books[1:], strict=True):
        assert [c.title for c in book.chapters] == [c.title for c in first.chapters], name
        assert (book.metadata.title, book.metadata.author) == (
            first.metadata.title,
            first.metadata.author,
        ), name
        assert book.words == pytest.approx(first.words, rel=0.002), name
