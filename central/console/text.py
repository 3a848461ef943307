"""What text the console takes: no control characters in names, ids and searches.

PostgreSQL refuses NUL in text (an error, a 500, where SQLite would store it), and
control characters have no business in a name or a plate; a note may have lines.
Each is a ``pattern`` for a pydantic ``Field`` or FastAPI ``Query``: refused with a 422.
"""

from __future__ import annotations

ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Tabs, newlines and carriage returns allowed; no other control character."""
