"""What the built-in admin pages and the admin API call: one module per concern.

* :mod:`.users`: search accounts (balance, reserved, minutes, books), grant or remove
  credits, disable or enable, make admin or author.
* :mod:`.jobs`: every author's jobs with filters and details; retry, cancel.
* :mod:`.queues`: RQ queue counts, live workers, failed RQ jobs, abandoned-task recovery.
* :mod:`.usage`: minutes generated, credits charged and sold, revenue, per day.
* :mod:`.audit`: the audit log, filtered and paged.
* :mod:`.views`: display rows for the pages (strings, ready to show).
* :mod:`.schemas`: the admin API's request and response models.

Every function that changes something takes the acting admin's id, checks that it is
an enabled admin (:func:`.access.acting_admin`, ForbiddenError otherwise) and leaves an
audit row naming them: its own ``admin.*`` row, or the row the service it calls writes
with the admin as actor (``credits.grant`` from :func:`billing.ledger.grant`,
``job.cancel`` from :func:`jobs.queue.cancel`). Callers (pages, API) check the role
too; these functions never trust them.
"""
