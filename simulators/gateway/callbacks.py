"""How the gateway simulator posts a signed callback to the lane: over HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable

from plumbing import log

logger = log.get(__name__)

Deliver = Callable[[str, dict[str, str], bytes], int]
"""Posts a callback (url, headers, body) and returns the HTTP status (0: unreachable)."""


def http_deliver(url: str, headers: dict[str, str], body: bytes) -> int:
    """Post a callback over HTTP; the lane's status, or 0 when it cannot be reached."""
    request = urllib.request.Request(  # noqa: S310 - the lane's callback URL, from the operator
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("callback_unreachable", url=url, cause=str(exc))
        return 0
