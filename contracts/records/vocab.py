"""The vocabularies of records: what kind, where it stands, why, how paid, flags.

The lane machine decides in these words (edge.lane imports them from here); the
wire and the store keep their values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class TxnKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    PASSAGE = "passage"


class TxnStatus(StrEnum):
    """Where a passage stands. The last three are final."""

    ARRIVED = "arrived"  # detected on the arming loop, nothing decided yet
    PENDING_PAYMENT = "pending_payment"  # a charge was decided and requested
    AUTHORISED = "authorised"  # the barrier may open (see ``authorisation``)
    BLOCKED = "blocked"  # authorised, but the barrier is in fault
    DENIED = "denied"  # refused or undecidable: waiting for an operator
    PASSED = "passed"
    VOIDED = "voided"  # left backwards without passing: no charge
    UNAUTHORISED = "unauthorised"  # went through without authorisation (tailgate, forced)


FINAL_STATUSES = frozenset({TxnStatus.PASSED, TxnStatus.VOIDED, TxnStatus.UNAUTHORISED})


class Authorisation(StrEnum):
    """Why a barrier may open for a vehicle (the safety rules allow nothing else)."""

    PAID = "paid"  # payment approved
    RULE = "rule"  # entry lane, whitelist, permit, zero fee, or unreadable plate admitted by policy
    OPERATOR = "operator"  # operator command; operator id and reason are on the record
    FAIL_OPEN = "fail_open"  # the lane could not decide and policy.fail_open is set
    FREE_PASSAGE = "free_passage"  # the lane is in free-passage mode


class Listing(StrEnum):
    """How the lane's lists know a plate."""

    NONE = "none"
    PERMIT = "permit"
    WHITELIST = "whitelist"
    BLACKLIST = "blacklist"
    PREPAID = "prepaid"


class PaymentMethod(StrEnum):
    TERMINAL = "terminal"  # card, QR or ETC at the lane's payment terminal
    ACCOUNT = "account"  # debit of the plate's prepaid account


class PaymentStatus(StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    FAILED = "failed"  # the terminal or gateway could not answer within the allowed tries
    REFUNDED = "refunded"


Severity = Literal["info", "warning", "alarm"]
DetailValue = str | int | float | bool | None
