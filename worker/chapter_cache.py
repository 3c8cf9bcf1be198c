"""Mastered chapters kept in storage, so a fix re-masters only the chapters it touched.

A conversion's ``assemble`` keeps every chapter it masters under
``users/<id>/books/<id>/mastered/<key>/``: the chapter files (``chapter.mp3`` ...), the
M4B feed as 16-bit FLAC at the mastering rate (``feed.flac``; 16 bits sit 96 dB down,
far under the AAC it feeds) and ``meta.json`` (written last: an entry without it is
incomplete and ignored). ``key`` hashes everything the mastered audio depends on: the
chapter's plan (index, title, every segment's id, text and pause), the mastering and
output config, the book's tags and the mastering rate. A later conversion of the book
(a recast character, a lexicon fix) restores each chapter whose key is unchanged
instead of mastering it, and its ``master`` tasks copy the kept chapter file. Deleting
the book deletes them with everything under its prefix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf

from audiobook_app.storage import user_key
from audiobook_app.storage.base import Storage
from pipeline.assemble import BookInfo, MasteredChapter, chapter_feed, chapter_file
from pipeline.config import PipelineConfig
from pipeline.models import ChapterPlan, plan_to_dict

BLOCK = 1 << 16  # samples per read/write of a feed


class StorageChapterCache:
    """:class:`pipeline.assemble.ChapterReuse` in the platform's storage, for one book.

    ``reused`` and ``kept`` count the chapters restored and mastered-then-kept (the job
    records them in its timings)."""

    def __init__(
        self,
        storage: Storage,
        owner_id: int,
        book_id: int,
        config: PipelineConfig,
        info: BookInfo,
    ) -> None:
        self.storage, self.config, self.info = storage, config, info
        self.prefix = user_key(owner_id, "books", str(book_id), "mastered")
        self.reused: list[int] = []
        self.kept: list[int] = []

    def key(self, plan: ChapterPlan, rate_hz: int) -> str:
        """The entry name of ``plan`` mastered at ``rate_hz`` (32 hex digits of SHA-256)."""
        payload = {
            "plan": plan_to_dict(plan),
            "mastering": self.config.mastering.model_dump(mode="json"),
            # what shapes the chapter files (not which extras a conversion writes)
            "output": self.config.output.model_dump(
                mode="json", include={"formats", "mp3_bitrate_kbps", "aac_bitrate_kbps"}
            ),
            "book": asdict(self.info),
            "rate_hz": rate_hz,
        }
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(canonical).hexdigest()[:32]

    def _entry(self, plan: ChapterPlan, rate_hz: int, name: str) -> str:
        return f"{self.prefix}/{self.key(plan, rate_hz)}/{name}"

    def has(self, plan: ChapterPlan, rate_hz: int) -> bool:
        """Whether ``plan`` mastered at ``rate_hz`` is kept (complete)."""
        return self.storage.exists(self._entry(plan, rate_hz, "meta.json"))

    def restore_file(
        self, plan: ChapterPlan, rate_hz: int, fmt: str, out_dir: Path
    ) -> tuple[Path, float] | None:
        """``plan``'s kept chapter file in ``fmt`` written to :func:`chapter_file` under
        ``out_dir``, with its duration in seconds; None when none is kept."""
        if not self.has(plan, rate_hz):
            return None
        meta = json.loads(self.storage.get_bytes(self._entry(plan, rate_hz, "meta.json")))
        if fmt not in meta["formats"]:
            return None
        path = self.storage.get_file(
            self._entry(plan, rate_hz, f"chapter.{fmt}"), chapter_file(out_dir, plan, fmt)
        )
        return path, meta["samples"] / rate_hz

    def restore(
        self, plan: ChapterPlan, out_dir: Path, rate_hz: int, m4b_feed: bool
    ) -> MasteredChapter | None:
        """See :meth:`pipeline.assemble.ChapterReuse.restore`."""
        meta_key = self._entry(plan, rate_hz, "meta.json")
        if not self.storage.exists(meta_key):
            return None
        meta = json.loads(self.storage.get_bytes(meta_key))
        files = {}
        for fmt in meta["formats"]:
            files[fmt] = self.storage.get_file(
                self._entry(plan, rate_hz, f"chapter.{fmt}"), chapter_file(out_dir, plan, fmt)
            )
        feed = None
        if m4b_feed:
            flac = chapter_feed(out_dir, plan.index).with_suffix(".flac")
            self.storage.get_file(self._entry(plan, rate_hz, "feed.flac"), flac)
            feed = chapter_feed(out_dir, plan.index)
            with sf.SoundFile(str(flac)) as src, open(feed, "wb") as dst:
                while len(block := src.read(BLOCK, dtype="float32")):
                    block.tofile(dst)
            flac.unlink()
        self.reused.append(plan.index)
        return MasteredChapter(
            plan.index, plan.title, files, feed, rate_hz, meta["samples"], meta["gain_db"]
        )

    def keep(self, plan: ChapterPlan, chapter: MasteredChapter) -> None:
        """See :meth:`pipeline.assemble.ChapterReuse.keep` (nothing is kept for a chapter
        mastered without its M4B feed: restoring it could not feed an M4B)."""
        if chapter.m4b_feed is None:
            return
        rate = chapter.rate_hz
        for fmt, path in chapter.files.items():
            self.storage.put_file(
                self._entry(plan, rate, f"chapter.{fmt}"), path, "application/octet-stream"
            )
        flac = chapter.m4b_feed.with_suffix(".flac")
        with (
            open(chapter.m4b_feed, "rb") as src,
            sf.SoundFile(str(flac), "w", rate, 1, "PCM_16", format="FLAC") as dst,
        ):
            while len(block := np.fromfile(src, dtype=np.float32, count=BLOCK)):
                dst.write(np.clip(block, -1.0, 1.0))
        self.storage.put_file(self._entry(plan, rate, "feed.flac"), flac, "audio/flac")
        flac.unlink()
        meta = {
            "formats": sorted(chapter.files),
            "samples": chapter.samples,
            "gain_db": chapter.gain_db,
        }
        self.storage.put_bytes(
            self._entry(plan, rate, "meta.json"), json.dumps(meta).encode(), "application/json"
        )
        self.kept.append(plan.index)
