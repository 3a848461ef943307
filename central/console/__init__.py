"""The supervisor console central serves (issue 17): users, sessions, the audit log, the API.

``auth`` (passwords, lockout), ``sessions`` (server-side sessions, CSRF tokens),
``audit`` (the append-only log), ``access`` (the one role check every route uses),
``app`` (the FastAPI application) and ``api`` (its JSON routes). It reads
central's storage only; it never talks to a lane but through commands.
"""
