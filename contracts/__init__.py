"""What two sides of lanewarden read: one definition each, importing only stdlib and pydantic.

A leaf package: ``edge`` and ``central`` import it, it imports neither.
:mod:`contracts.commands` is the operator command schema that the lane's local
control socket carries today and MQTT (``{plaza}/{lane}/cmd``) carries next.
"""
