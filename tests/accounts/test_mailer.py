"""The mailer: the outbox folder, and SMTP against a real server on loopback (aiosmtpd)."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from audiobook_app.accounts.mailer import OutboxMailer, SmtpMailer, build_mailer
from audiobook_app.settings import Settings
from pipeline.errors import MailError
from tests.accounts.smtp_server import Inbox, self_signed_certificate, start_server
from tests.platform.harness import free_port

SENDER = "Audiobook Studio <noreply@studio.example.com>"
LOGIN = ("mailer", "s3cret-smtp-password")


def _smtp_settings(port: int, **overrides) -> Settings:
    return Settings(
        _env_file=None,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_from=SENDER,
        smtp_timeout_s=10,
        **overrides,
    )


def test_outbox_writes_one_eml_file_per_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = build_mailer(
        Settings(_env_file=None, mail_outbox_dir=tmp_path / "outbox", mail_from=SENDER)
    )
    assert isinstance(mailer, OutboxMailer)
    with caplog.at_level(logging.INFO, logger="audiobook_app.accounts.mailer"):
        mailer.send(
            "reader@example.com",
            "Your book is ready",
            "Secret body text",
            html="<p>Secret body</p>",
        )
        mailer.send("reader@example.com", "Second", "Two")
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert (message["From"], message["To"], message["Subject"]) == (
        SENDER,
        "reader@example.com",
        "Your book is ready",
    )
    assert message["Message-ID"].endswith("@studio.example.com>") and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == "Secret body text"
    assert message.get_body(("html",)).get_content().strip() == "<p>Secret body</p>"
    assert "Your book is ready" in caplog.text and "Secret body" not in caplog.text


def test_outbox_that_cannot_be_written_is_a_mail_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(MailError, match="cannot write mail to the outbox"):
        OutboxMailer(tmp_path / "file" / "outbox", SENDER).send("a@example.com", "s", "t")


def test_smtp_plain_relay_delivers(caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()
    server = start_server(inbox)
    try:
        with caplog.at_level(logging.INFO, logger="audiobook_app.accounts.mailer"):
            build_mailer(_smtp_settings(server.port, smtp_security="none")).send(
                "reader@example.com",
                "Your book failed",
                "Chapter 3 could not be read.",
                html="<b>Chapter 3</b>",
            )
    finally:
        server.stop()
    assert inbox.recipients == [["reader@example.com"]]
    message = inbox.messages[0]
    assert (message["From"], message["Subject"]) == (SENDER, "Your book failed")
    assert message.get_body(("plain",)).get_content().strip() == "Chapter 3 could not be read."
    assert message.get_body(("html",)).get_content().strip() == "<b>Chapter 3</b>"
    assert f"sent through 127.0.0.1:{server.port}" in caplog.text


def test_smtp_starttls_with_login_and_a_private_ca(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert = self_signed_certificate(tmp_path)
    inbox = Inbox()
    server = start_server(inbox, security="starttls", cert=cert, login=LOGIN)
    try:
        settings = _smtp_settings(
            server.port, smtp_username=LOGIN[0], smtp_password=LOGIN[1], smtp_ca_file=cert[0]
        )
        with caplog.at_level(logging.DEBUG):
            build_mailer(settings).send("reader@example.com", "Reset", "Link inside")
        assert [m["Subject"] for m in inbox.messages] == ["Reset"]
        assert LOGIN[1] not in caplog.text

        wrong = _smtp_settings(
            server.port, smtp_username=LOGIN[0], smtp_password="wrong", smtp_ca_file=cert[0]
        )
        with pytest.raises(MailError, match="refused the login of 'mailer'") as caught:
            build_mailer(wrong).send("reader@example.com", "Reset", "Link inside")
        assert "wrong" not in str(caught.value).replace("'mailer'", "")

        untrusted = _smtp_settings(server.port, smtp_username=LOGIN[0], smtp_password=LOGIN[1])
        with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
            build_mailer(untrusted).send("reader@example.com", "Reset", "Link inside")
    finally:
        server.stop()
    assert len(inbox.messages) == 1


def test_smtp_implicit_tls(tmp_path: Path) -> None:
    cert = self_signed_certificate(tmp_path)
    inbox = Inbox()
    server = start_server(inbox, security="tls", cert=cert)
    try:
        build_mailer(_smtp_settings(server.port, smtp_security="tls", smtp_ca_file=cert[0])).send(
            "reader@example.com", "Over TLS", "Body"
        )
    finally:
        server.stop()
    assert [m["Subject"] for m in inbox.messages] == ["Over TLS"]


def test_smtp_server_down_is_a_mail_error() -> None:
    port = free_port()
    with pytest.raises(MailError, match=f"could not send mail through 127.0.0.1:{port}"):
        SmtpMailer("127.0.0.1", port, SENDER, security="none", timeout_s=5).send(
            "a@example.com", "s", "t"
        )


def test_smtp_settings_need_a_host_and_a_readable_ca_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AUDIOBOOK_SMTP_HOST is required"):
        Settings(_env_file=None, mail_backend="smtp")
    with pytest.raises(MailError, match="cannot load AUDIOBOOK_SMTP_CA_FILE"):
        build_mailer(_smtp_settings(25, smtp_ca_file=tmp_path / "missing.pem"))
