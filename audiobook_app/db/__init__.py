"""Database layer: SQLModel models, sessions, repository functions. Imports neither
Reflex nor RQ, so workers and the web app share it."""
