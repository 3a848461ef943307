"""The lane state machine: pure, deterministic, replayable.

``step(state, event, now) -> (state, actions)``. No clock reads, no I/O, no
threads, no randomness: ``now`` (an aware UTC datetime) comes with each event,
the state is a frozen value, and the same initial state and event log give the
same actions (:func:`replay`). The shell (the daemon) turns device reports and
lookup answers into events, and carries actions out in list order.

Time
    ``now`` stamps records and derived ids; it never measures an interval.
    Intervals are timers: the machine emits ``StartTimer(timer, token,
    seconds)``; the shell runs it on its monotonic clock and feeds back
    ``TimerExpired(timer, token)``, which goes into the event log like any
    other event. One timer of each name runs at a time; an expiry whose token
    is not the running one (cancelled or restarted since) is ignored.

Ids
    Transaction and lane-event ids are UUIDv7 derived from ``now``, a counter
    in the state and a nonce the shell draws once per daemon start
    (:func:`contracts.uuid7.derive_uuid7`). Timer tokens come from the same counter.

Events (:mod:`edge.lane.events`)
    Devices: ``ArmingLoop(occupied)``, ``SafetyLoop(occupied)``,
    ``BarrierUp()``, ``BarrierDown()``, ``BarrierFault(reason)``.
    Plate reader, answering ``Capture``: ``PlateRead(txn_id, text,
    confidence, evidence)``, ``PlateUnreadable(txn_id)`` (reads under the reader's
    threshold count as unreadable); ``EvidenceKept(txn_id, images)``: the
    images kept of a vehicle whose plate was given up on. The image ids go on
    the record's later versions. A plate typed for a vehicle whose plate was
    not read: ``PlateTyped(txn_id, plate, operator_id, reason)`` (the driver's,
    through the gateway's pay-by-plate page, or an operator's).
    Shell lookups, answering ``LookUpVehicle(txn_id, plate, at)``:
    ``VehicleChecked(txn_id, listing, open_entry, quote, vehicle_class,
    account)`` or ``LookupFailed(txn_id, reason)``. Per lane kind the shell
    fills ``VehicleChecked`` so:

    - parking/highway entry: ``listing``; ``open_entry`` = the plate's entry
      that has no exit yet (anti-passback); no quote.
    - parking/highway exit: ``listing``; ``open_entry`` = the entry this exit
      closes, or ``None``; ``quote`` = the fee from that entry to ``at`` (for a
      highway, entry plaza to this plaza), or the unmatched-exit fee (lost
      ticket / maximum-distance fare) when there is no entry. The machine flags
      ``unmatched_exit`` itself. A highway exit with no entry of its own asks
      central (a task: the lane keeps serving events) and answers with what
      central said in ``central`` (found, none, unanswered): an unanswered
      lookup is flagged ``entry_lookup_unanswered`` too.
    - open plaza: ``listing`` and ``quote`` (flat fee per class).

    Payment terminal/gateway, answering ``RequestPayment``:
    ``PaymentResult(txn_id, key, outcome, amount, gateway_ref, reason,
    method)`` (``method``: how an approved payment was settled) with
    outcome approved, declined (definite), error (unknown: retried under the
    same key) or postpay (the lane's post-pay rule: admitted by rule, nothing
    taken, flagged ``postpay`` to be billed by plate).
    Operators: ``OperatorOpen(operator_id, reason)``,
    ``OperatorClose(operator_id, reason)``, ``SetMode(mode, operator_id, reason)``,
    ``TurnAway(operator_id, reason)``. Drivers: ``HelpPressed()`` (the lane's help
    button: an assistance alarm; a stranded vehicle's wait starts again).
    Stop: ``Stopping(open, arming)``, last: the passages still open once the
    lane no longer serves, settled by the same rules (nothing stays authorised).
    Start: ``Restarted(open, arming, safety)``, first after
    ``LaneState.initial``: the loops as found and the passages the last run
    left open, settled by the rules of :mod:`edge.lane.restart` (the newest
    authorised one stays authorised for a vehicle still on the loops).
    Timers: ``TimerExpired(timer, token)`` for ``plate``, ``payment``,
    ``grant``, ``help``, ``arming_stuck``, ``safety_stuck``.
    The shell answers every ``RequestPayment`` (its own timeout is an
    ``error`` result): a vehicle gone with its payment unanswered stays in
    ``LaneState.outstanding`` until the answer comes, and a late approval is
    recorded (``late_payment``) and alarmed. A vehicle that backed out has its
    order closed (``ClosePayment``, answered by the same ``PaymentResult``),
    and money that still comes for it is refunded (``refund_due``,
    ``RefundPayment``): :mod:`edge.lane.abandoned` says why a refund, not a credit.

Actions (:mod:`edge.lane.actions`)
    Records, committed synchronously before the next action:
    ``RecordTransaction(txn, at)`` (a new version of :class:`Txn`),
    ``RecordEvent(id, kind, at, txn_id, operator_id, reason)``,
    ``RaiseAlarm(id, alarm, at, txn_id, detail)``.
    Money and barrier: ``RequestPayment(txn_id, key, amount, currency, method,
    account, plate)``, ``ClosePayment(txn_id, key)``, ``RefundPayment(txn_id, amount,
    currency, gateway_ref)``, ``OpenBarrier(because)``, ``CloseBarrier(because)``.
    Other: ``Capture(txn_id, reason)``, ``LookUpVehicle(txn_id, plate, at)``,
    ``ShowMessage(message, amount, currency)``, ``WatchPlateOrders(txn_id)``
    (answered by ``PlateTyped``), ``StartTimer``, ``CancelTimer``.

A stranded vehicle (unreadable plate, policy ``offer_help``)
    The barrier stays down; the driver is told to scan the QR code and type the
    plate (pay by plate) or wait for help, an ``assistance`` alarm calls an
    operator, and the machine waits ``help_wait_s`` for a ``PlateTyped`` (then
    the plate is looked up and charged as a read one, flagged ``plate_typed``),
    an operator's open or turn-away, or the vehicle backing out; with none of
    these it is denied as under ``deny_and_call``.

Safety rules, held by construction in every state
    - ``CloseBarrier`` is only emitted at the end of a step, from the final
      loop state, when the safety loop is clear; otherwise the close waits for
      the step that clears the safety loop.
    - ``OpenBarrier`` is emitted only right after a record that authorises it:
      a ``RecordTransaction`` with status authorised/blocked and an
      ``authorisation`` of ``paid`` (payment approved), ``rule`` (entry lane,
      whitelist, permit, zero fee, unreadable plate admitted by policy),
      ``operator`` (with operator id and reason), ``fail_open`` (policy) or
      ``free_passage``; or a ``RecordEvent`` of an operator open, of a switch
      to free passage, or of a re-open while one of those still holds.
    - One vehicle, one charge: a vehicle has one transaction id; its payment
      key is ``"{txn_id}:{n}"`` and ``n`` grows only after a definite decline,
      so errors and timeouts are retried under the same key; nothing is
      requested after an approval. Answers that match no waiting key are ignored.
    - Every ``OpenBarrier``/``CloseBarrier`` names in ``because`` a record
      earlier in the same list; every ``RequestPayment`` follows a
      ``RecordTransaction`` of its transaction with status pending_payment;
      every ``ClosePayment`` follows the record of its passage voided with the
      payment requested, every ``RefundPayment`` the record flagged ``refund_due``.

Vehicle movement, from the two loops
    A vehicle arrives on the arming loop (a transaction starts: capture, plate,
    lookup, payment). It passes by reaching the safety loop, leaving the arming
    loop, then leaving the safety loop (recorded ``passed``). It backs out when
    the arming loop clears while the safety loop is clear (recorded ``voided``:
    no charge; if it had paid, ``refund_review`` and an alarm; if its payment
    was still open, its order is closed). When an
    unauthorised vehicle leaves the arming loop onto an occupied safety loop,
    it went through on another's authorisation while the barrier was up
    (``tailgate``) or past a closed barrier (``barrier_forced``). The barrier
    rising without a command, or reporting a fault, is recorded and alarmed;
    after a fault the barrier is re-driven when it reports again. A barrier back
    up after a close reversed on an obstacle and is closed again once the safety
    loop clears. While the barrier is in fault no payment is requested: a
    vehicle that would pay is denied (``barrier_fault``) and help is called.
    Limits of loops alone: two vehicles bumper to bumper that never let the
    arming loop clear count as one; a vehicle reversing off the safety loop
    onto the arming loop while another waits there reads as a pass; an unpaid
    vehicle backing out while something else occupies the safety loop reads
    as tailgate or forced (an alarm and a record for review, never a charge).

Modes
    normal; closed (new vehicles are told so, vehicles already being served
    finish); free passage (barrier held up, every vehicle recorded with
    ``free_passage`` and no charge, no lookups); maintenance (no vehicles
    served, barrier moves not treated as forced, stuck loops not alarmed,
    an operator open holds the barrier up until an operator close or a mode
    change). Every mode change and operator command is a ``RecordEvent``.
"""

from edge.lane.machine import replay, step
from edge.lane.records import Txn
from edge.lane.state import LaneState

__all__ = ["LaneState", "Txn", "replay", "step"]
