"""The drivers' error, in a leaf module so that every driver can import it at the top.

It subclasses :class:`ImportError`, as gpiozero's ``BadPinFactory`` does: a
driver is unavailable because a package or a board is missing on this machine.
"""

from __future__ import annotations


class DriverUnavailableError(ImportError):
    """A driver cannot be built on this machine or in this build; the message says why."""
