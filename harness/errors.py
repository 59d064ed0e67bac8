"""Typed errors. Libraries raise these; only the CLI turns them into exit codes."""


class HarnessError(Exception):
    """Base class for every error the harness raises on purpose."""

    exit_code = 2


class BadInput(HarnessError):
    """The user gave something unusable: a missing file, an unknown name, a malformed line."""


class MissingDependency(BadInput):
    """An optional extra is needed (e.g. `pip install video-harness[tarsier]`)."""


class JudgeNotConfigured(BadInput):
    """A benchmark needs an LLM judge and none is configured."""


class VideoError(HarnessError):
    """A video could not be decoded. Recorded per sample; never crashes a run."""


class BudgetExceeded(HarnessError):
    """The judge budget would be exceeded; the run stops cleanly and resumes later."""

    exit_code = 1


class EndpointRefused(HarnessError):
    """A model endpoint rejects every request (bad key, unknown model, wrong URL, no batch API): stop, exit 2."""


class EndpointUnavailable(HarnessError):
    """A model endpoint keeps failing; the run stops cleanly (finished work is saved) and resumes later."""

    exit_code = 1


class CallFailed(HarnessError):
    """One chat call failed for good (after its retries), or its answer was unusable. Per call, never a stop."""

    exit_code = 1

    def __init__(self, reason: str, final: bool = False):
        super().__init__(reason)
        self.final = final  # asking the same request again is pointless (400, 422)


class JudgeCheckFailed(HarnessError):
    """A judge gives fewer known answers than the threshold asks (harness judge-check): a warning, exit 1."""

    exit_code = 1


class BatchWaiting(HarnessError):
    """The wait for provider batches ran out with batches still open; the same command continues."""

    exit_code = 1
    keep_message = True  # the runner passes the message on as is


class BatchEnded(HarnessError):
    """A provider batch ended failed, expired or cancelled; its unanswered requests go out again next run."""

    exit_code = 1
    keep_message = True


def validation_summary(err) -> str:
    """A pydantic ValidationError in one line: the first field and its problem, and how many more.

    Pydantic's own text spans several lines and quotes the whole input; a user needs the field
    to fix and what is wrong with it.
    """
    errors = err.errors()
    if not errors:
        return str(err).splitlines()[0]
    first = errors[0]
    loc = ".".join(str(x) for x in first.get("loc", ()))
    msg = " ".join(str(first.get("msg", "invalid")).removeprefix("Value error, ").split())
    more = f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"
