"""Accounts: who a request is, and what they may touch. Plain Python over the database
session, importable without Reflex (the web pages call it; so do the CLI and workers).

Modules, each used on its own (``from audiobook_app.accounts import users``):

* :mod:`.users` - sign up, sign in (argon2id, :mod:`.passwords`), look users up.
* :mod:`.sessions` - server-side sessions: create, resolve (sliding expiry), sign out, revoke.
* :mod:`.reset` - password reset by an emailed single-use link.
* :mod:`.mailer` - sending email: an outbox folder of .eml files, or SMTP.
* :mod:`.admin` - the first admin account.
* :mod:`.oauth` - OpenID Connect sign-in (authorization URL, callback), :mod:`.oidc`
  validating the provider's metadata and ID token.
* :mod:`.ownership` - refusing access to other users' books, jobs and files.
* :mod:`.tokens` - the random tokens handed out and the digests stored.

Conventions: functions take the database session first and flush, never commit (the
caller's ``session_scope`` does); they raise the errors of :mod:`pipeline.errors`, whose
messages are safe to show. Several block (argon2 hashing takes tens of milliseconds by
design, mail and OAuth do network I/O): call them from a thread
(``asyncio.to_thread``), never directly inside an async Reflex handler. Secrets
(passwords, tokens, client secrets) are never logged.
"""
