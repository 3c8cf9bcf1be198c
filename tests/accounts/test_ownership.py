"""Ownership: two users, real Book, Job and File rows; another user's object reads as missing."""

from __future__ import annotations

import pytest

from audiobook_app.accounts.ownership import get_owned, require_owner
from audiobook_app.accounts.users import sign_up
from audiobook_app.db.models import Book, File, FilePurpose, Job, User, UserRole, Voice
from audiobook_app.db.session import session_scope
from audiobook_app.settings import Settings
from pipeline.errors import NotFoundError
from tests.accounts.conftest import PASSWORD


@pytest.fixture
def rows(settings: Settings) -> dict:
    """Ann owns a book, its job and its M4B file; Ben owns nothing; Ada is an admin."""
    with session_scope(settings.database_url) as session:
        ann, ben = (
            sign_up(session, settings, f"{n}@example.com", PASSWORD) for n in ("ann", "ben")
        )
        ada = sign_up(session, settings, "ada@example.com", PASSWORD, role=UserRole.ADMIN)
        book = Book(
            owner_id=ann.id,
            title="Ann's Novel",
            source_filename="novel.epub",
            source_key="up/1/novel.epub",
        )
        session.add(book)
        session.flush()
        job = Job(book_id=book.id, owner_id=ann.id)
        session.add(job)
        session.flush()
        file = File(
            owner_id=ann.id,
            book_id=book.id,
            job_id=job.id,
            key="out/novel.m4b",
            size_bytes=10,
            mime="audio/mp4",
            purpose=FilePurpose.M4B,
        )
        voice = Voice(name="Joe", engine="piper", model="en_US-joe-medium")
        session.add_all([file, voice])
        session.flush()
        return {
            "ann": ann,
            "ben": ben,
            "ada": ada,
            "book": book.id,
            "job": job.id,
            "file": file.id,
            "voice": voice.id,
        }


@pytest.mark.parametrize(
    ("model", "key", "word"), [(Book, "book", "book"), (Job, "job", "job"), (File, "file", "file")]
)
def test_owner_gets_it_and_others_get_not_found(
    settings: Settings, rows: dict, model, key: str, word: str
) -> None:
    obj_id = rows[key]
    with session_scope(settings.database_url) as session:
        assert get_owned(session, rows["ann"], model, obj_id).id == obj_id
        with pytest.raises(NotFoundError) as theirs:
            get_owned(session, rows["ben"], model, obj_id)
        missing_id = "0" * 32 if model is Job else 999_999
        with pytest.raises(NotFoundError) as missing:
            get_owned(session, rows["ben"], model, missing_id)
    assert str(theirs.value) == f"no {word} {obj_id}"
    assert str(missing.value) == f"no {word} {missing_id}", (
        "someone else's reads exactly like a missing one"
    )


def test_admins_pass_only_when_the_caller_allows(settings: Settings, rows: dict) -> None:
    with session_scope(settings.database_url) as session:
        with pytest.raises(NotFoundError):
            get_owned(session, rows["ada"], Book, rows["book"])
        assert (
            get_owned(session, rows["ada"], Book, rows["book"], allow_admin=True).id == rows["book"]
        )
        with pytest.raises(NotFoundError):
            get_owned(session, rows["ben"], Book, rows["book"], allow_admin=True)


def test_require_owner_on_a_loaded_object_and_shared_voices(settings: Settings, rows: dict) -> None:
    with session_scope(settings.database_url) as session:
        book = session.get(Book, rows["book"])
        assert require_owner(rows["ann"], book) is book
        with pytest.raises(NotFoundError, match=f"^no book {rows['book']}$"):
            require_owner(rows["ben"], book)
        built_in = session.get(Voice, rows["voice"])
        assert require_owner(rows["ben"], built_in) is built_in  # owner None: everyone's
        assert isinstance(rows["ben"], User)
