"""The jobs platform: submitting books, RQ queues and the watchdog, progress events."""
