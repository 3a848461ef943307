"""Alarms central raises and resolves from what ingest stored.

Event-driven rules run on each stored batch (:mod:`central.alarms.events`);
time-based ones (lane offline, gap not filled, reconciliation, hourly revenue) in a
periodic sweep (:mod:`central.alarms.sweep`). All go through the alarms table's
lifecycle (:mod:`central.storage.alarms`), as ``changed_by = "central"``.
"""
