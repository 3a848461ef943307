"""The transaction record and lane event contracts, shared by the edge store and central.

:mod:`~contracts.records.vocab` holds the words (kinds, statuses, flags),
:mod:`~contracts.records.transaction` and :mod:`~contracts.records.lane_event` what a
lane builds, and :mod:`~contracts.records.sealed` the sealed, hash-chained records the
store keeps and central verifies (the module doc there says how the chain and the
plate commitment work).
"""
