"""The project's one errors module.

Every error the user can act on is a subclass of :class:`AudiobookError` and carries a
one-line, user-facing message that says what is wrong and what to do. ``InputError``
subclasses mean "bad input" (CLI exit status 2, HTTP 4xx later); anything else that
derives from ``AudiobookError`` is a failure of ours or of the environment (exit 1).
"""

from __future__ import annotations


class AudiobookError(Exception):
    """Root of all AudiobookPipeline errors; ``str(err)`` is safe to show a user."""


class InputError(AudiobookError):
    """The user's input (manuscript, options, config) is unusable as given."""


class EmptyFileError(InputError):
    """The uploaded file has no bytes, or no readable text at all."""


class UnsupportedFormatError(InputError):
    """The file is not one of the formats we read (EPUB, DOCX, PDF, TXT, Markdown)."""


class NotTextError(InputError):
    """A file named as text holds binary data (an image, an archive...)."""


class CorruptEpubError(InputError):
    """The EPUB's ZIP container is truncated or damaged."""


class NotAnEpubError(InputError):
    """A valid ZIP that is not an EPUB (no container.xml / no package document)."""


class MissingPackageDocumentError(NotAnEpubError):
    """container.xml points to an OPF package document that is not in the archive."""


class DrmProtectedError(InputError):
    """The EPUB is encrypted with DRM (META-INF/encryption.xml for content files)."""


class CorruptDocxError(InputError):
    """The DOCX is not a readable Office Open XML document."""


class CorruptPdfError(InputError):
    """The PDF cannot be opened (truncated, damaged, or encrypted with a password)."""


class NoTextLayerError(InputError):
    """The PDF has no extractable text (a scan): it needs OCR first."""


class NoChaptersError(InputError):
    """Parsing found no chapter with speakable text."""


class ChapterSelectionError(InputError):
    """A ``--chapters`` selection is malformed or names chapters the book lacks."""


class LayoutError(ChapterSelectionError):
    """The author's track layout does not fit the book: no such track to merge, or no
    such sub-heading to split at (see :mod:`pipeline.structure`)."""


class ConfigError(InputError):
    """A YAML config or lexicon file is malformed or has unknown keys / bad values."""


class EngineError(AudiobookError):
    """A TTS engine failed to load or to synthesize (not the user's fault)."""


class EncodingError(AudiobookError):
    """Writing an audio container (M4B, MP3, WAV, FLAC) failed."""


# --- Platform (database, storage, queue). Same rules: InputError subclasses are the
# user's to fix (HTTP 4xx); the rest are ours or the environment's.


class UploadRejectedError(InputError):
    """An upload is too large, empty, or not one of the accepted manuscript types."""


class UploadTooLargeError(UploadRejectedError):
    """An upload over the size limit (``settings.max_upload_bytes``; HTTP 413)."""


class StorageQuotaExceededError(UploadRejectedError):
    """A manuscript that would take the author's stored files over their storage quota
    (``settings.storage_quota_bytes``; HTTP 413): the message gives what is used, the
    quota and how to free space (delete books)."""


class ReferenceAudioError(InputError):
    """A voice-clone reference recording is refused (see :mod:`pipeline.reference_audio`).

    ``reason`` says which rule it broke, one of ``"too_big"``, ``"not_audio"``,
    ``"too_short"``, ``"too_long"``, ``"silent"``, ``"clipped"``; the message gives the
    measured number and the limit.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[ReferenceAudioError], tuple[str, str]]:
        # Pickles with its reason (RQ and multiprocessing pickle exceptions).
        return (type(self), (str(self), self.reason))


class VoiceRequestError(InputError):
    """A voice-library request to change: a voice without a name, "try a voice" text
    that is empty or over the limit, a design without a description (see
    :mod:`audiobook_app.voice_library`)."""


class CastError(InputError):
    """A book's cast that cannot be used: an unknown mode, a voice the author's library
    lacks, a character who does not speak in the book, narrator + dialogue without a
    dialogue voice (see :mod:`audiobook_app.book_cast`)."""


class LexiconEntryError(InputError):
    """A pronunciation entry refused: an empty or over-long term or respelling, a term
    without a letter or digit, or a common word (see :mod:`audiobook_app.book_fixes`)."""


class NotFoundError(InputError):
    """A book, job or file id that does not exist (or is not the caller's)."""


class StorageError(AudiobookError):
    """The storage backend (local folder or S3) failed or is unreachable."""


class QueueError(AudiobookError):
    """Redis / RQ is unreachable or refused an operation."""


class NoWorkerError(QueueError):
    """No worker listens on the queue a request needs (no gpu worker for a Qwen3-TTS
    voice): queued, it would wait forever; the message names the command that starts one."""


class JobCancelledError(AudiobookError):
    """Raised inside a worker task when its job was cancelled; the task stops quietly."""


# --- Accounts (sign-up, sign-in, sessions, password reset, OAuth, mail). Same rules.


class InvalidEmailError(InputError):
    """An email address that is not one (no @, bad domain...): the message says what is wrong."""


class WeakPasswordError(InputError):
    """A new password breaks the policy (too short, or the same as the email address)."""


class EmailTakenError(InputError):
    """Signing up (or creating the first admin) with an email that already has an account."""


class SignInError(InputError):
    """Signing in failed; the subclass says why (a page shows the message as it is)."""


class InvalidCredentialsError(SignInError):
    """Unknown email or wrong password (deliberately the same error for both)."""


class AccountDisabledError(SignInError):
    """The account exists but an administrator disabled it."""


class InvalidResetTokenError(InputError):
    """A password-reset link that is unknown, expired or already used: ask for a new one."""


class AdminExistsError(InputError):
    """The first admin is created once; an admin exists already (promote users in the app)."""


class OAuthStateError(SignInError):
    """An OAuth callback whose ``state`` is unknown, expired, already used, or not this
    browser's: the sign-in must start again."""


class OAuthDeniedError(SignInError):
    """The provider returned an error instead of a code (the user cancelled, or the
    provider refused the request)."""


class IdTokenError(SignInError):
    """The provider's ID token failed validation (signature, issuer, audience, nonce,
    expiry) or lacks the email claim."""


class UnverifiedEmailError(SignInError):
    """The provider does not vouch for the email address (``email_verified`` is not true),
    so it cannot create or join an account."""


class OAuthProviderError(AudiobookError):
    """An OAuth/OpenID provider is unreachable or answered something unusable."""


class MailError(AudiobookError):
    """An email could not be sent (SMTP server unreachable, refused, or outbox not writable)."""


# --- Billing, the REST API and admin work. Same rules; the API maps each to a status.


class InsufficientCreditsError(InputError):
    """Starting a job would overdraw the account: the message gives the cost and the
    balance (HTTP 402)."""


class ForbiddenError(InputError):
    """The caller is signed in but may not do this (an author on an admin page; HTTP 403)."""


class ConflictError(InputError):
    """The object is not in a state that allows this (retry a job that did not fail,
    revoke a key twice; HTTP 409)."""


class PaymentsDisabledError(InputError):
    """Buying credits while no Stripe keys are configured: an admin grants credits instead."""


class WebhookError(InputError):
    """A payment provider's webhook with a missing or wrong signature, a stale timestamp
    or an unreadable body (HTTP 400; nothing is credited)."""


class PaymentProviderError(AudiobookError):
    """Stripe is unreachable or refused a request (creating a Checkout Session)."""


class RateLimitedError(InputError):
    """Too many requests of one kind in a window (HTTP 429); ``retry_after_s`` is when
    the next one is allowed."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ReadAlongError(InputError):
    """A read-along EPUB cannot be built from what it was given: a source that is not a
    readable EPUB, a chapter without cues, audio that is missing or not MP3, cue times
    outside the audio (see :mod:`pipeline.readalong`)."""


class SegmentFixError(InputError):
    """An author's fix of one segment is refused (empty or too long text; the job is not
    one to regenerate from)."""
