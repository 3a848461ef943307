"""What the lane display says for each message of the lane machine (two lines)."""

from __future__ import annotations

from contracts.money import format_amount
from edge.lane.actions import Message, ShowMessage
from edge.payments.qr import QrPrompt

TEXT: dict[Message, tuple[str, str]] = {
    Message.PLEASE_PAY: ("Please pay", "{amount}"),
    Message.PAYMENT_DECLINED: ("Payment declined", "Please try again"),
    Message.PROCEED: ("Thank you", "Please proceed"),
    Message.PAID_BARRIER_FAULT: ("Paid - barrier fault", "Wait: help is coming"),
    Message.BARRIER_FAULT: ("Barrier fault", "Wait: help is coming"),
    Message.HELP_CALLED: ("Please wait", "An operator is called"),
    Message.LANE_CLOSED: ("Lane closed", "Please use another lane"),
    Message.TYPE_PLATE: ("Plate not read: scan QR", "to pay by plate, or wait"),
    Message.TURNED_AWAY: ("Entry refused", "Please reverse"),
}


def lines_for(action: ShowMessage) -> tuple[str, str]:
    top, bottom = TEXT[action.message]
    amount = ""
    if action.amount is not None and action.currency is not None:
        amount = format_amount(action.amount, action.currency)
    return top, bottom.format(amount=amount)


PLATE_PAGE_PROMPT = "Scan QR, type your plate"


def plate_page_lines(page_url: str) -> tuple[str, str]:
    """The pay-by-plate prompt: what to do, and the gateway page's URL for the QR panel."""
    return PLATE_PAGE_PROMPT, page_url


def qr_lines(prompt: QrPrompt) -> tuple[str, str]:
    """The gateway's QR prompt: the amount, and the code's content for the QR panel."""
    return f"Scan to pay {format_amount(prompt.amount, prompt.currency)}", prompt.qr_url
