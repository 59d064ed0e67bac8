"""The one retry policy of every model call (chat, batch API, Gemini), and the one error every transport raises.

Transports turn their library's failures into CallError (status, kind, message, Retry-After, transient or
not); `policy` retries the transient ones with exponential jitter, honouring Retry-After / retry-after-ms,
bounded in count and in time (tenacity). Kinds keep the OpenAI SDK's exception names (RateLimitError,
InternalServerError, APIConnectionError, ...), so failure reasons read as they did before the client
stopped using the SDK on its hot path.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Callable, Mapping

KINDS = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError",
         409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError"}


class CallError(Exception):
    """One try of one request failed. Internal to the client: callers see CallFailed or a stop error."""

    def __init__(self, kind: str, message: str = "", status: int | None = None,
                 retry_after: float | None = None, transient: bool = False):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.transient = transient

    def describe(self) -> str:
        msg = " ".join(str(self.message).split())[:160]
        if not self.kind:
            return msg
        return f"{self.kind} {self.status}: {msg}" if self.status is not None else f"{self.kind}: {msg}"


def status_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> CallError:
    kind = KINDS.get(status) or ("InternalServerError" if status >= 500 else "APIStatusError")
    transient = status in (408, 409, 429) or status >= 500
    return CallError(kind, message, status, retry_after(headers), transient)


def connection_error(exc: BaseException) -> CallError:
    """A dropped connection, a refused one, a timeout: always worth another try."""
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return CallError("APITimeoutError", "Request timed out.", transient=True)
    detail = str(exc) or type(exc).__name__
    return CallError("APIConnectionError", f"Connection error: {detail}", transient=True)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asks us to wait (retry-after-ms, or retry-after in seconds or as an HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, CallError) and exc.transient


def policy(config: Any, on_retry: Callable[[Any], None] | None = None, spent: float = 0.0):
    """A tenacity AsyncRetrying for one call: `await policy(cfg)(fn, *args)`; the last error is re-raised.

    spent: seconds the call already took before the policy started (its deadline counts them)."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay
    from tenacity.wait import wait_random_exponential

    backoff = wait_random_exponential(multiplier=config.retry_wait, max=config.retry_max_wait)

    def wait(state) -> float:
        exc = state.outcome.exception() if state.outcome else None
        base = backoff(state)
        after = exc.retry_after if isinstance(exc, CallError) else None
        if after is not None:
            base = max(base, after)
        return min(base, config.retry_max_wait)

    return AsyncRetrying(retry=retry_if_exception(is_transient),
                         stop=stop_after_attempt(max(1, config.retries))
                         | stop_after_delay(max(0.0, config.retry_deadline - spent)),
                         wait=wait, before_sleep=on_retry, reraise=True)
