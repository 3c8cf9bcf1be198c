"""Storage layer against real things: a temp folder and a real moto S3 server process.

Covers both backends of :mod:`audiobook_app.storage` (round trips, atomic writes, listing
and deleting, missing keys, key traversal, signed / presigned download URLs, health
checks, error translation) and the upload sniffing of :func:`check_upload`.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from botocore.config import Config

import audiobook_app.storage.local as storage_mod
from audiobook_app.settings import Settings
from audiobook_app.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    build_storage,
    check_upload,
    content_disposition,
    safe_filename,
    user_key,
)
from pipeline.errors import NotFoundError, StorageError, UploadRejectedError

SECRET = "test-secret"
BASE_URL = "http://files.example:3000/"
MiB = 1024 * 1024
BAD_KEYS = [
    "users/1/../../etc/passwd",
    "../outside",
    "/etc/passwd",
    "users\\1\\book.epub",
    "users/1/a\x00b",
    "users/1/a\nb",
    "users//1/x",
    "users/1/",
    "users/1/./x",
    "users/1/.hidden",
    ".staging/x",
    "",
    "users/1/" + "x" * 256,
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store", SECRET, BASE_URL)


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


# --- keys -------------------------------------------------------------------------


def test_user_key_builds_and_rejects() -> None:
    assert (
        user_key(7, "books", "12", "source", "Moby Dick.epub")
        == "users/7/books/12/source/Moby Dick.epub"
    )
    for bad in [(0, "x"), (-1, "x"), (True, "x"), (7,), (7, "a/b"), (7, ".."), (7, "")]:
        with pytest.raises(ValueError):
            user_key(*bad)  # type: ignore[arg-type]


def test_safe_filename_makes_key_parts() -> None:
    assert safe_filename("C:\\fakepath\\My..Book.epub") == "My..Book.epub"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename(".bashrc") == "bashrc"
    assert safe_filename("a\x00b.txt") == "a_b.txt"
    assert safe_filename("...") == "file"
    long = safe_filename("é" * 300 + ".epub")
    assert long.endswith(".epub") and len(long.encode()) <= 200
    for name in ["C:\\x\\.y.md", "\n\t", "книга.txt", "x" * 400]:
        user_key(1, safe_filename(name))  # never raises


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_rejects_bad_keys_without_touching_disk(
    local: LocalStorage, tmp_path: Path, key: str
) -> None:
    for call in (
        lambda: local.put_bytes(key, b"x", "text/plain"),
        lambda: local.get_bytes(key),
        lambda: local.exists(key),
        lambda: local.delete(key),
        lambda: local.path_for(key),
        lambda: local.download_url(key, expires_s=60),
    ):
        with pytest.raises(ValueError):
            call()
    assert not local.verify_download(key, int(time.time()) + 60, "0" * 64)
    assert _tree(tmp_path) == []


def test_local_never_follows_a_symlink_out_of_root(local: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local.root / "users" / "1").mkdir(parents=True)
    (local.root / "users" / "1" / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="escapes"):
        local.put_bytes("users/1/link/x.txt", b"x", "text/plain")
    assert local.list_keys("users/1/link/") == []
    assert not any(outside.iterdir())


# --- local backend ------------------------------------------------------------------


def test_local_round_trip(local: LocalStorage, tmp_path: Path) -> None:
    key = user_key(1, "books", "1", "source", "Ünïcode name.txt")
    local.put_bytes(key, b"hello", "text/plain")
    assert local.get_bytes(key) == b"hello" and local.exists(key) and local.size(key) == 5
    local.put_bytes(key, b"replaced", "text/plain")
    assert local.get_bytes(key) == b"replaced"
    assert local.path_for(key) == local.root / key

    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * MiB + 7))
    local.put_file("users/1/audio/book.m4b", src, "audio/mp4")
    dest = local.get_file("users/1/audio/book.m4b", tmp_path / "out" / "deep" / "copy.m4b")
    assert dest == tmp_path / "out" / "deep" / "copy.m4b" and dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["copy.m4b"]  # no temp file beside it
    assert _tree(local.root) == [
        "users/1/audio/book.m4b",
        f"users/1/books/1/source/{'Ünïcode name.txt'}",
    ]


def test_local_put_is_atomic_and_leaves_no_temp_files(
    local: LocalStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "users/1/book.m4b"
    local.put_bytes(key, b"version 1", "audio/mp4")
    src = tmp_path / "v2.bin"
    src.write_bytes(b"version 2" * 1000)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage_mod.shutil, "copyfileobj", disk_full)
    with pytest.raises(StorageError, match="No space left") as err:
        local.put_file(key, src, "audio/mp4")
    assert key in str(err.value) and "\n" not in str(err.value)
    assert local.get_bytes(key) == b"version 1"  # the old version is intact
    assert _tree(local.root) == [key]  # and no temp file is left behind
    monkeypatch.undo()
    local.put_file(key, src, "audio/mp4")
    assert local.get_bytes(key) == src.read_bytes() and _tree(local.root) == [key]

    with pytest.raises(StorageError):  # a missing source file
        local.put_file("users/1/other", tmp_path / "nope", "audio/mp4")
    assert _tree(local.root) == [key]


def test_local_list_delete_and_delete_prefix(local: LocalStorage) -> None:
    keys = [
        "users/1/a.txt",
        "users/1/books/2/x.txt",
        "users/1/books/2/y.txt",
        "users/10/a.txt",
        "users/2/b.txt",
    ]
    for key in reversed(keys):
        local.put_bytes(key, key.encode(), "text/plain")
    (local.root / "users" / "1" / "bad\\name").write_bytes(b"")  # not a valid key: never listed
    assert local.list_keys("") == keys
    assert local.list_keys("users/1/") == keys[:3]
    assert local.list_keys("users/1") == keys[:4]  # plain string prefix
    assert local.list_keys("users/1/books/2/x") == ["users/1/books/2/x.txt"]
    assert local.list_keys("users/3/") == [] and local.list_keys("users/1/a.txt/") == []

    local.delete("users/1/a.txt")
    local.delete("users/1/a.txt")  # idempotent
    assert not local.exists("users/1/a.txt")
    with pytest.raises(ValueError):
        local.delete_prefix("users/1")  # would also hit users/10
    with pytest.raises(ValueError):
        local.delete_prefix("")
    assert local.delete_prefix("users/1/books/") == 2
    assert not (local.root / "users" / "1" / "books").exists()  # empty folders pruned
    assert local.delete_prefix("users/1/books/") == 0
    assert local.list_keys("") == ["users/10/a.txt", "users/2/b.txt"]


def test_local_missing_key_is_not_found(local: LocalStorage, tmp_path: Path) -> None:
    key = "users/1/missing.epub"
    for call in (
        lambda: local.get_bytes(key),
        lambda: local.get_file(key, tmp_path / "x"),
        lambda: local.size(key),
    ):
        with pytest.raises(NotFoundError, match=re.escape(key)):
            call()
    local.put_bytes("users/1/dir/file", b"x", "text/plain")
    with pytest.raises(NotFoundError):
        local.get_bytes("users/1/dir")  # a folder is not a file
    assert not local.exists(key) and not local.exists("users/1/dir")
    assert not (tmp_path / "x").exists()


def test_local_signed_download_url(local: LocalStorage) -> None:
    key = "users/3/books/9/out/My Book #1 ü.m4b"
    url = local.download_url(key, expires_s=600)
    parts = urlsplit(url)
    assert url.startswith("http://files.example:3000/files/users/3/")
    assert unquote(parts.path) == f"/files/{key}"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    expires, sig = int(query["expires"]), query["sig"]
    assert abs(expires - (time.time() + 600)) < 5 and re.fullmatch(r"[0-9a-f]{64}", sig)
    assert "filename" not in query

    assert local.verify_download(key, expires, sig)
    assert local.verify_download(
        key, expires, sig, now=expires
    )  # valid up to and including `expires`
    assert not local.verify_download(key, expires, sig, now=expires + 1)  # expired
    assert not local.verify_download("users/3/books/9/out/other.m4b", expires, sig)  # tampered key
    assert not local.verify_download(key, expires + 3600, sig)  # extended expiry
    assert not local.verify_download(key, expires, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not local.verify_download(key, expires, "")
    assert not local.verify_download(key, expires, "ünï")
    assert not local.verify_download(key, expires, sig, filename="x.m4b")  # filename not signed
    assert not LocalStorage(local.root, "other-secret", BASE_URL).verify_download(key, expires, sig)

    url = local.download_url(key, expires_s=60, filename="My Book.m4b")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["filename"] == "My Book.m4b"
    assert local.verify_download(key, int(query["expires"]), query["sig"], filename="My Book.m4b")
    assert not local.verify_download(key, int(query["expires"]), query["sig"], filename="Evil.exe")
    assert not local.verify_download(key, int(query["expires"]), query["sig"])

    for bad in (0, 7 * 24 * 3600 + 1):
        with pytest.raises(ValueError):
            local.download_url(key, expires_s=bad)
    with pytest.raises(ValueError):
        local.download_url(key, expires_s=60, filename="a\r\nSet-Cookie: x")


def test_content_disposition_is_header_safe() -> None:
    value = content_disposition('Ünï "quoted".m4b')
    assert value.startswith('attachment; filename="_n_ _quoted_.m4b"; ')
    assert value.endswith("filename*=UTF-8''%C3%9Cn%C3%AF%20%22quoted%22.m4b")
    value.encode("ascii")


def test_local_check(tmp_path: Path) -> None:
    LocalStorage(tmp_path / "new" / "store", SECRET, BASE_URL).check()  # creates the folder
    assert (tmp_path / "new" / "store").is_dir()
    assert _tree(tmp_path / "new") == []

    a_file = tmp_path / "regular-file"
    a_file.write_text("x")
    with pytest.raises(StorageError, match="not a writable folder"):
        LocalStorage(a_file, SECRET, BASE_URL).check()
    with pytest.raises(StorageError):
        LocalStorage(a_file, SECRET, BASE_URL).put_bytes("users/1/x", b"x", "text/plain")

    if os.geteuid() == 0:
        return  # root ignores permissions: the read-only folder case cannot be shown
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="not a writable folder"):
            LocalStorage(ro, SECRET, BASE_URL).check()
    finally:
        ro.chmod(0o755)


def test_build_storage_picks_the_backend(tmp_path: Path) -> None:
    local = build_storage(Settings(storage_root=tmp_path / "s", secret_key=SECRET))
    assert isinstance(local, LocalStorage) and local.root == (tmp_path / "s").resolve()
    s3 = build_storage(
        Settings(
            storage_backend="s3",
            s3_bucket="b",
            s3_endpoint_url="http://127.0.0.1:1",
            s3_access_key_id="k",
            s3_secret_access_key="s",
        )
    )
    assert isinstance(s3, S3Storage) and isinstance(s3, Storage) and s3.bucket == "b"


# --- S3 backend against a real moto server -------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> str:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start on port {port} (exit {proc.poll()})")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def s3_client(moto_endpoint: str):
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="audiobooks")
    return client


def _s3(endpoint: str, bucket: str = "audiobooks", **kwargs: int) -> S3Storage:
    return S3Storage(bucket, endpoint, "us-east-1", "test", "test", **kwargs)


@pytest.fixture
def s3(moto_endpoint: str, s3_client) -> S3Storage:
    return _s3(moto_endpoint)


def test_s3_round_trip_and_missing_keys(s3: S3Storage, s3_client, tmp_path: Path) -> None:
    key = "users/1/books/1/source/Ünïcode name.txt"
    s3.put_bytes(key, b"hello", "text/plain")
    assert s3.get_bytes(key) == b"hello" and s3.exists(key) and s3.size(key) == 5
    assert s3_client.head_object(Bucket="audiobooks", Key=key)["ContentType"] == "text/plain"
    dest = s3.get_file(key, tmp_path / "deep" / "x.txt")
    assert dest.read_bytes() == b"hello"

    missing = "users/1/missing.epub"
    for call in (
        lambda: s3.get_bytes(missing),
        lambda: s3.get_file(missing, tmp_path / "m"),
        lambda: s3.size(missing),
    ):
        with pytest.raises(NotFoundError, match=re.escape(missing)):
            call()
    assert not s3.exists(missing) and not (tmp_path / "m").exists()
    s3.delete(key)
    s3.delete(key)  # idempotent
    assert not s3.exists(key)
    for bad in BAD_KEYS:
        with pytest.raises(ValueError):
            s3.put_bytes(bad, b"x", "text/plain")
        with pytest.raises(ValueError):
            s3.download_url(bad, expires_s=60)


def test_s3_put_file_goes_multipart_over_8_mib(s3: S3Storage, s3_client, tmp_path: Path) -> None:
    src = tmp_path / "big.m4b"
    src.write_bytes(os.urandom(12 * MiB))
    key = "users/1/books/1/out/big.m4b"
    s3.put_file(key, src, "audio/mp4")
    head = s3_client.head_object(Bucket="audiobooks", Key=key)
    assert re.search(r"-2\"?$", head["ETag"]), head["ETag"]  # 2 parts of 8 MiB + 4 MiB
    assert head["ContentType"] == "audio/mp4" and s3.size(key) == 12 * MiB
    assert s3.get_file(key, tmp_path / "copy.m4b").read_bytes() == src.read_bytes()

    small = tmp_path / "small.txt"
    small.write_bytes(b"small")
    s3.put_file("users/1/small.txt", small, "text/plain")
    assert "-" not in s3_client.head_object(Bucket="audiobooks", Key="users/1/small.txt")["ETag"]
    with pytest.raises(StorageError):
        s3.put_file("users/1/nope", tmp_path / "nope", "text/plain")


def test_s3_list_all_pages_and_delete_prefix_in_batches(moto_endpoint: str, s3_client) -> None:
    s3 = _s3(moto_endpoint, batch_size=7)  # 7 keys a page / a delete request: many of each
    keys = sorted(f"users/5/books/{i:03d}.txt" for i in range(40))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_bytes(k, b"x", "text/plain"), keys + ["users/50/keep.txt"]))
    calls: list[str] = []
    s3._s3.meta.events.register("before-call.s3", lambda model, **kw: calls.append(model.name))
    assert s3.list_keys("users/5/") == keys
    assert calls.count("ListObjectsV2") == 6
    assert s3.list_keys("users/5") == keys + ["users/50/keep.txt"]
    calls.clear()
    assert s3.delete_prefix("users/5/") == 40
    assert calls.count("DeleteObjects") == 6
    assert s3.list_keys("users/5/") == [] and s3.exists("users/50/keep.txt")
    with pytest.raises(ValueError):
        s3.delete_prefix("users/5")


def test_s3_more_than_1000_keys(s3: S3Storage) -> None:
    keys = sorted(f"users/6/k{i:04d}" for i in range(1005))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_bytes(k, b"", "text/plain"), keys))
    assert s3.list_keys("users/6/") == keys
    assert s3.delete_prefix("users/6/") == 1005
    assert s3.list_keys("users/6/") == []


def test_s3_presigned_download(s3: S3Storage) -> None:
    key = "users/1/books/1/out/My Book ü.m4b"
    s3.put_bytes(key, b"audio bytes", "audio/mp4")
    with urllib.request.urlopen(s3.download_url(key, expires_s=300), timeout=10) as resp:
        assert resp.read() == b"audio bytes"
    url = s3.download_url(key, expires_s=300, filename="My Book ü.m4b")
    assert "X-Amz-Expires=300" in url and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"audio bytes"
        assert resp.headers["Content-Disposition"] == content_disposition("My Book ü.m4b")
    with pytest.raises(ValueError):
        s3.download_url(key, expires_s=7 * 24 * 3600 + 1)


def test_s3_check_and_unreachable_endpoint(s3: S3Storage, moto_endpoint: str) -> None:
    s3.check()
    with pytest.raises(StorageError, match="'no-such-bucket' does not exist"):
        _s3(moto_endpoint, "no-such-bucket").check()
    with pytest.raises(StorageError):
        _s3(moto_endpoint, "no-such-bucket").get_bytes("users/1/x")

    dead = _s3(f"http://127.0.0.1:{_free_port()}", max_attempts=1)
    calls = [
        dead.check,
        lambda: dead.get_bytes("users/1/x"),
        lambda: dead.put_bytes("users/1/x", b"x", "text/plain"),
        lambda: dead.list_keys("users/1/"),
        lambda: dead.exists("users/1/x"),
        lambda: dead.delete_prefix("users/1/"),
    ]
    for call in calls:
        with pytest.raises(StorageError, match="unreachable") as err:
            call()
        assert type(err.value) is StorageError and "\n" not in str(err.value)


# --- upload sniffing -----------------------------------------------------------------


def _zip(name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, "x")
    return buf.getvalue()


EPUB, DOCX = _zip("mimetype"), _zip("word/document.xml")
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20
TEXT = "Chapter 1\n\nIt was a dark and stormy night.\n"


@pytest.mark.parametrize(
    ("filename", "data", "mime"),
    [
        ("book.epub", EPUB, "application/epub+zip"),
        ("Book.EPUB", EPUB, "application/epub+zip"),
        (
            "book.docx",
            DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("book.pdf", PDF, "application/pdf"),
        ("book.pdf", b"\xef\xbb\xbfjunk before header\n" + PDF, "application/pdf"),
        ("book.txt", TEXT.encode(), "text/plain"),
        ("book.text", TEXT.encode("cp1252"), "text/plain"),
        ("book.txt", "\ufeffCafé “quoted”\r\n".encode(), "text/plain"),
        ("book.md", b"# Title\n\nBody\n", "text/markdown"),
        ("book.markdown", b"# Title\n", "text/markdown"),
        ("book.txt", TEXT.encode("utf-16"), "text/plain"),  # BOM + NULs
        ("book.md", TEXT.encode("utf-16-be"), "text/markdown"),  # no BOM, UTF-16 layout
        ("book.txt", TEXT.encode("utf-16-le"), "text/plain"),
        ("book.txt", TEXT.encode("utf-32"), "text/plain"),
        ("C:\\fakepath\\book.txt", b"x", "text/plain"),
    ],
)
def test_check_upload_accepts(filename: str, data: bytes, mime: str) -> None:
    assert check_upload(filename, data, 10 * MiB) == mime


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("book.epub", b"", "empty \\(0 bytes\\)"),
        ("book.txt", b"", "empty"),
        ("book.txt", b"x" * (MiB + 1), "larger than the 1 MB upload limit"),
        ("book.exe", b"MZ\x90\x00", "file type '.exe' is not accepted"),
        ("book.doc", b"\xd0\xcf\x11\xe0", "file type '.doc'"),
        ("book.zip", EPUB, "file type '.zip'"),
        ("README", b"text", "without an extension"),
        ("book.epub", b"<html>not a zip</html>", "not a valid EPUB file"),
        ("book.epub", b"PK\x05\x06" + b"\x00" * 18, "not a valid EPUB file"),  # empty ZIP
        ("book.docx", PDF, "not a valid DOCX file"),
        ("book.pdf", b"hello, not a pdf", "not a PDF file"),
        ("book.pdf", b" " * 1100 + PDF, "not a PDF file"),  # header past the first 1024 bytes
        ("book.txt", PNG, "PNG image"),
        ("book.md", b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
        ("book.txt", EPUB, "ZIP archive"),
        ("book.txt", PDF, "a PDF"),
        ("book.txt", b"text\x00\x01\x02binary\x00\xff" * 10, "binary data \\(NUL bytes\\)"),
        (
            "book.md",
            TEXT.encode() * 300 + b"\x00\x00\x00\x07",
            "NUL bytes",
        ),  # NULs after the sample
    ],
)
def test_check_upload_rejects(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(UploadRejectedError, match=message) as err:
        check_upload(filename, data, MiB)
    assert "\n" not in str(err.value) and str(err.value).startswith(filename.rsplit("\\", 1)[-1])


def test_check_upload_limit_message_in_mb() -> None:
    with pytest.raises(UploadRejectedError, match=r"larger than the 2 MB upload limit \(2\.0 MB\)"):
        check_upload("big.pdf", b"%PDF-" + b"\x00" * (2 * MiB), 2 * MiB)


CORPUS_MIME = {
    "epub": "application/epub+zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}


def test_check_upload_on_the_corpus(corpus: Path) -> None:
    for folder, mime in CORPUS_MIME.items():
        books = sorted((corpus / folder).iterdir())
        assert books
        for book in books:
            assert check_upload(book.name, book.read_bytes(), 100 * MiB) == mime, book
    for book in sorted((corpus / "text").iterdir()):
        expected = "text/markdown" if book.suffix == ".md" else "text/plain"
        assert check_upload(book.name, book.read_bytes(), 100 * MiB) == expected, book

    bad = sorted((corpus / "bad").iterdir())
    rejected = {
        p.name for p in bad if p.stat().st_size == 0 or p.read_bytes().startswith(b"\x89PNG")
    }
    assert {"empty.txt", "empty.epub", "binary-png-named-as.txt"} <= rejected
    for book in bad:
        if book.name in rejected:
            with pytest.raises(UploadRejectedError):
                check_upload(book.name, book.read_bytes(), 100 * MiB)
    # Damaged-but-plausible files pass the cheap sniff; the parser explains them later.
    for name in (
        "the-yellow-wallpaper_utf16le-bom.md",
        "pride-and-prejudice_windows-1252.txt",
        "moby-dick_truncated-half.epub",
        "pride-and-prejudice_truncated.pdf",
    ):
        check_upload(name, (corpus / "bad" / name).read_bytes(), 100 * MiB)
