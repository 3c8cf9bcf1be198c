"""The built-in admin pages (admin role only): users (``/admin``, ``/admin/users``),
jobs (``/admin/jobs``), queue and workers (``/admin/queue``), usage and revenue
(``/admin/usage``), audit log (``/admin/audit``).

Each page has its own small substate of :class:`.common.AdminState`, whose
``require_admin`` on_load sends signed-out visitors to the sign-in page and shows
anyone who is not an admin "Not found" and nothing else; every event handler checks
the admin role again on the server before it reads or changes anything. The pages
call the services of :mod:`audiobook_app.admin` (shared with the admin API).
"""

from audiobook_app.pages.admin import audit, common, jobs, queue, usage, users

__all__ = ["audit", "common", "jobs", "queue", "usage", "users"]
