"""The manuscript size limit and the per-author storage quota, enforced where manuscripts
are stored (:func:`library.add_manuscript` / ``store_manuscript``: the page, the REST API
and the CLI), against real SQLite, Redis and local storage: a refused manuscript leaves
nothing stored, the quota counts every file of the author and only theirs, deleting a
book frees its space, and ``audiobook submit`` refuses with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from audiobook_app import library
from audiobook_app.db import repo
from audiobook_app.db.models import Book, File, FilePurpose
from audiobook_app.settings import Settings
from pipeline.errors import StorageQuotaExceededError, UploadTooLargeError
from tests.platform.harness import STORY, Platform, two_authors

MiB = 1024 * 1024
DATA = STORY.encode()
VOICE_SAMPLE = FilePurpose.VOICE_SAMPLE


@pytest.fixture
def platform(tmp_path: Path, sqlite_url: str):
    plat = Platform(
        tmp_path,
        sqlite_url,
        extra={
            "AUDIOBOOK_MAX_UPLOAD_BYTES": str(len(DATA)),
            "AUDIOBOOK_STORAGE_QUOTA_BYTES": str(3 * len(DATA)),
        },
    )
    yield plat
    plat.stop()


def _stored(platform: Platform, user_id: int) -> list[tuple[str, int]]:
    return platform.read(
        lambda s: [
            (f.key.rsplit("/", 1)[-1], f.size_bytes)
            for f in s.exec(select(File).where(File.owner_id == user_id)).all()
        ]
    )


def _objects(platform: Platform) -> list[Path]:
    return [p for p in (platform.root / "storage").rglob("*") if p.is_file()]


def test_the_default_limit_refuses_a_60_mb_manuscript_before_storing_it(
    platform: Platform,
) -> None:
    settings, conn, storage, alice, _ = two_authors(platform)
    defaults = Settings(_env_file=None)
    assert defaults.max_upload_bytes == 50 * MiB
    assert defaults.storage_quota_bytes == 5 * 1024 * MiB
    big = settings.model_copy(update={"max_upload_bytes": defaults.max_upload_bytes})
    with pytest.raises(UploadTooLargeError, match=r"larger than the 50 MB upload limit \(60 MB\)"):
        library.add_manuscript(conn, big, storage, alice, "huge.txt", b"word " * (12 * MiB))
    assert platform.read(lambda s: s.exec(select(Book)).all()) == []
    assert _objects(platform) == []


def test_the_quota_counts_every_file_of_the_author_and_deleting_frees_it(
    platform: Platform,
) -> None:
    settings, conn, storage, alice, bob = two_authors(platform)
    with pytest.raises(UploadTooLargeError):
        library.add_manuscript(conn, settings, storage, alice, "story.txt", DATA + b"!")
    first = library.add_manuscript(conn, settings, storage, alice, "one.txt", DATA)
    library.add_manuscript(conn, settings, storage, alice, "two.txt", DATA)
    sample = f"users/{alice}/voices/1/sample.wav"  # not a manuscript: counted all the same
    storage.put_bytes(sample, b"x" * 10, "audio/wav")
    platform.read(lambda s: repo.add_file(s, alice, sample, 10, "audio/wav", VOICE_SAMPLE))
    assert platform.read(lambda s: library.stored_bytes(s, alice)) == 2 * len(DATA) + 10
    with pytest.raises(StorageQuotaExceededError) as refused:
        library.add_manuscript(conn, settings, storage, alice, "three.txt", DATA)
    message = str(refused.value)
    assert message.startswith("three.txt (2.0 KB) does not fit in your storage: 4.0 KB of")
    assert "delete books you no longer need" in message
    assert sorted(name for name, _ in _stored(platform, alice)) == [
        "one.txt",
        "sample.wav",
        "two.txt",
    ]
    library.add_manuscript(conn, settings, storage, bob, "three.txt", DATA)  # bob's own quota

    library.delete_book(conn, settings, storage, alice, first)
    library.add_manuscript(conn, settings, storage, alice, "three.txt", DATA)
    assert sorted(name for name, _ in _stored(platform, alice)) == [
        "sample.wav",
        "three.txt",
        "two.txt",
    ]


def test_the_cli_refuses_a_manuscript_over_the_limit_or_the_quota(
    platform: Platform, tmp_path: Path
) -> None:
    two_authors(platform)
    too_big = tmp_path / "big.txt"
    too_big.write_bytes(DATA + b"!")
    refused = platform.cli("submit", str(too_big))
    assert refused.returncode == 2, refused.stderr
    assert "upload limit" in refused.stderr
    story = tmp_path / "story.txt"
    story.write_bytes(DATA)
    for _ in range(3):
        platform.submit(story)
    over = platform.cli("submit", str(story))
    assert over.returncode == 2, over.stderr
    assert "does not fit in your storage" in over.stderr
    assert len(platform.read(lambda s: s.exec(select(Book)).all())) == 3
