"""A record batch that only repeats what central holds (a resend), told before it is read.

When central falls behind, a lane's resend timer fires before its ack arrives and it
sends the same records again. Reading such a batch in full (validating every record,
checking every hash) costs what storing it cost the first time, so that a slow
central gets slower still with every timer that fires. A batch whose records all lie
at or below the lane's ack is looked at first as plain JSON: only its records'
``lane_seq`` and claimed ``hash``. When every one of them is held with that very hash,
storing it would store nothing, and the lane is answered with the ack as it stands.
Anything else (a record not held, a different hash, which is a conflict and an alarm,
or a payload that is not a clean batch of this lane) goes the full way through the
contract's reader and the store, so nothing is taken on trust that would be stored.
"""

from __future__ import annotations

import json
import re

from contracts.mqtt.payloads import SCHEMA_VERSION, EventBatch, TxnBatch
from contracts.records.sealed import LaneEventRecord, TransactionRecord

_SEQ = re.compile(rb'"lane_seq"\s*:\s*(\d{1,18})')
_FIELDS: dict[type[TxnBatch] | type[EventBatch], frozenset[str]] = {
    TxnBatch: frozenset(TransactionRecord.model_fields),
    EventBatch: frozenset(LaneEventRecord.model_fields),
}


def seq_span(payload: bytes) -> tuple[int, int] | None:
    """The first and last ``lane_seq`` written in ``payload``: a hint from the bytes, or None.

    A search, not a parse (the first and last occurrence), so that a fresh batch
    costs next to nothing to tell from a resend; :func:`claimed` reads it properly.
    """
    first = _SEQ.search(payload)
    last_at = payload.rfind(b'"lane_seq"')
    last = _SEQ.match(payload, last_at) if last_at >= 0 else None
    if first is None or last is None:
        return None
    return int(first.group(1)), int(last.group(1))


def claimed(
    payload: bytes, model: type[TxnBatch] | type[EventBatch], plaza_id: str, lane_id: str
) -> list[tuple[int, str]] | None:
    """``(lane_seq, hash)`` of each record of a ``model`` batch of the lane; None if not one.

    None for anything but a JSON object of this contract version, kind, plaza and
    lane, with the batch's keys and no other, whose records (one at least) are
    objects of the lane with no key the record lacks, consecutive integer
    ``lane_seq`` and a string ``hash``: such a payload is for the full reader to
    judge. The shape is checked, not every value: what a resend's records say is not
    stored, and their hashes, compared with those held, say which records they are.
    """
    try:
        data = json.loads(payload)
    except ValueError:  # not UTF-8 or not JSON
        return None
    if (
        not isinstance(data, dict)
        or data.keys() != model.model_fields.keys()
        or (data["schema_version"], data["kind"], data["plaza_id"], data["lane_id"])
        != (SCHEMA_VERSION, model.payload_kind, plaza_id, lane_id)
    ):
        return None
    records = data["records"]
    if not isinstance(records, list) or not records:
        return None
    fields = _FIELDS[model]
    out: list[tuple[int, str]] = []
    for record in records:
        if not isinstance(record, dict) or record.get("lane_id") != lane_id:
            return None
        if not record.keys() <= fields:
            return None
        seq, digest = record.get("lane_seq"), record.get("hash")
        if type(seq) is not int or not isinstance(digest, str):
            return None
        if out and seq != out[-1][0] + 1:
            return None
        out.append((seq, digest))
    return out
