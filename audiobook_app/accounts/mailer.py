"""Sending email: one ``send(to, subject, text, html=None)`` for every message of the app
(password resets now; "your book is ready" or "failed" later).

Two backends, chosen by ``settings.mail_backend``:

* ``outbox`` (default): each message becomes an ``.eml`` file in
  ``settings.mail_outbox_dir`` (open it in any mail program) and a log line. For
  development, and for studios without a mail server: the operator forwards resets
  by hand. The files hold the messages' links in the clear, so keep the folder private.
* ``smtp``: submitted to ``settings.smtp_host`` with :mod:`smtplib`, over STARTTLS
  (port 587, the default), implicit TLS (465) or, for a trusted local relay only, plain.

Log lines name the recipient, subject and where the message went, never its body
(reset links are secrets) nor the SMTP password.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Literal, Protocol

from pydantic import SecretStr

from audiobook_app.settings import Settings
from pipeline.errors import MailError

log = logging.getLogger(__name__)


class Mailer(Protocol):
    """Something that sends an email (a plain-text body, optionally an HTML alternative).
    ``send`` raises :class:`MailError` when the message could not be handed over."""

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> None: ...


def compose(sender: str, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    """A MIME message with Date and Message-ID headers; ``multipart/alternative`` when
    there is an HTML body. Raises ValueError for a header with a line break (injection)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(
        domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    )
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


@dataclass(frozen=True)
class OutboxMailer:
    """Writes each message to ``outbox_dir/<UTC time>-<random>.eml`` (atomically: a
    temporary name, then a rename, so a reader never sees half a file)."""

    outbox_dir: Path
    sender: str

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        message = compose(self.sender, to, subject, text, html)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"
        path = self.outbox_dir / name
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(message.as_bytes())
            os.replace(partial, path)
        except OSError as exc:
            raise MailError(
                f"cannot write mail to the outbox {self.outbox_dir}: {exc.strerror}"
            ) from None
        log.info("mail to %s (%r) written to %s", to, subject, path)


@dataclass(frozen=True)
class SmtpMailer:
    """Submits each message to an SMTP server, one connection per message (mail is
    rare here: resets and job notices)."""

    host: str
    port: int
    sender: str
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = 30.0
    ssl_context: ssl.SSLContext | None = None  # None: the system's CAs, hostname checked

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        message = compose(self.sender, to, subject, text, html)
        context = self.ssl_context or ssl.create_default_context()
        try:
            with self._connect(context) as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=context)
                if self.username:
                    smtp.login(
                        self.username, self.password.get_secret_value() if self.password else ""
                    )
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError:
            raise MailError(
                f"the SMTP server {self.host}:{self.port} refused the login of {self.username!r}: "
                "check AUDIOBOOK_SMTP_USERNAME and AUDIOBOOK_SMTP_PASSWORD"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"could not send mail through {self.host}:{self.port}: {exc}") from None
        log.info("mail to %s (%r) sent through %s:%s", to, subject, self.host, self.port)

    def _connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)


def build_mailer(settings: Settings) -> Mailer:
    """The mailer the settings choose (``mail_backend``; see the module docstring).

    Raises :class:`MailError` when ``smtp_ca_file`` cannot be read.
    """
    if settings.mail_backend == "outbox":
        return OutboxMailer(settings.mail_outbox_dir, settings.mail_from)
    try:
        context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise MailError(
            f"cannot load AUDIOBOOK_SMTP_CA_FILE {settings.smtp_ca_file}: {exc}"
        ) from None
    return SmtpMailer(
        settings.smtp_host or "",
        settings.smtp_port,
        settings.mail_from,
        settings.smtp_security,
        settings.smtp_username,
        settings.smtp_password,
        settings.smtp_timeout_s,
        context,
    )
