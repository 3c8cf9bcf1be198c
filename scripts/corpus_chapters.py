"""Print every corpus book's chapters at the default split level: count, first and last
title, author (a Markdown table). Usage: python scripts/corpus_chapters.py [CORPUS_DIR]

Used for the before/after table in a stop note when chapter detection changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.errors import InputError
from pipeline.parse import parse_file

FORMATS = ("epub", "text", "docx", "pdf")


def main() -> None:
    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus")
    print("| book | tracks | first | last | author |")
    print("|---|---|---|---|---|")
    for folder in FORMATS:
        for path in sorted((corpus / folder).iterdir()):
            try:
                book = parse_file(path)
            except InputError as exc:
                print(f"| {folder}/{path.name} | error: {exc} | | | |")
                continue
            chapters = book.chapters
            print(
                f"| {folder}/{path.name} | {len(chapters)} | {chapters[0].title} | "
                f"{chapters[-1].title} | {book.metadata.author} |"
            )


if __name__ == "__main__":
    main()
