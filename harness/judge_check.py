"""A canary for judge drift: a small fixed set of judge questions whose answers are known, built at run
time from the annotation files the user has (never a copy kept in the repository).

- AutoDQ, from DREAM-1K samples with annotated events (Prompt B exactly as scoring sends it):
  `entail-own`: a sample's events against its own reference description: every event must be entailed;
  `entail-unrelated`: the same events against the description of an unrelated sample (another subset and
  video, the fewest content words in common): no event may be entailed (neutral or contradiction).
- Open-ended QA, from QA samples (the Video-ChatGPT prompt exactly as scoring sends it):
  `qa-right`: the correct answer as the prediction must be judged 'yes';
  `qa-wrong`: another sample's answer sharing no word with it must be judged 'no'.

Selection is deterministic: samples ordered by the SHA-256 of their id, the first n that qualify (the same
set for the same file, whatever its line order); the set is recorded by the SHA-256 of its questions and
expected answers. The questions are asked live, never answered from the cache: a judge that drifted must
answer for itself. A judge's agreement is the share of known answers it gives (an unparseable or failed
question counts against it), overall and per part; it fails the check when any part falls below the
threshold (a judge that entails everything, or nothing, passes one half of the set and fails the other).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from harness.types import Sample

DEFAULT_N = 20  # samples per part
DEFAULT_THRESHOLD = 0.8
PARTS = ("entail-own", "entail-unrelated", "qa-right", "qa-wrong")
ENTAILED, NOT_ENTAILED = "entailment", "not entailment"
_STOP = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "with", "is", "are", "was", "were", "his",
         "her", "their", "its", "it", "he", "she", "they", "then", "while", "by", "from", "into", "as", "for",
         "that", "this", "be", "one", "another", "other", "some", "who", "what", "does", "do", "did"}


@dataclass(frozen=True)
class Check:
    part: str  # one of PARTS
    sample_id: str
    messages: list[dict[str, str]]
    expected: tuple[str, ...]  # per event ENTAILED / NOT_ENTAILED; QA: ("yes",) or ("no",)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP}


def _ordered(samples: list[Sample]) -> list[Sample]:
    return sorted(samples, key=lambda s: hashlib.sha256(s.id.encode("utf-8")).hexdigest())


def autodq_checks(samples: list[Sample], n: int = DEFAULT_N) -> list[Check]:
    from harness.metrics.autodq import entail_messages

    usable = [s for s in _ordered(samples) if s.references and isinstance(s.extra.get("events"), list)
              and s.extra["events"] and all(isinstance(e, str) and e.strip() for e in s.extra["events"])]
    chosen = usable[:n]
    own, unrelated = [], []
    for s in chosen:
        events = list(s.extra["events"])
        ref = s.references[0].lower()
        own.append(Check("entail-own", s.id, entail_messages(ref, events, ref), (ENTAILED,) * len(events)))
        subset = s.groups.get("subset") or s.dataset
        mine = _words(" ".join(events))
        others = [o for o in chosen if o.cluster != s.cluster and (o.groups.get("subset") or o.dataset) != subset]
        if not others:
            continue
        other = min(others, key=lambda o: len(mine & _words(o.references[0])))  # the first of the least similar
        desc = other.references[0].lower()
        unrelated.append(Check("entail-unrelated", f"{s.id} vs {other.id}", entail_messages(desc, events, desc),
                               (NOT_ENTAILED,) * len(events)))
    return own + unrelated


def qa_checks(samples: list[Sample], n: int = DEFAULT_N) -> list[Check]:
    from harness.metrics.open_qa import qa_messages

    chosen = [s for s in _ordered(samples) if s.question and s.answer and _words(s.answer)][:n]
    right, wrong = [], []
    for i, s in enumerate(chosen):
        right.append(Check("qa-right", s.id, qa_messages(s.question, s.answer, s.answer), ("yes",)))
        mine = _words(s.answer)
        other = next((o for o in chosen[i + 1:] + chosen[:i] if not mine & _words(o.answer)), None)
        if other is not None:
            wrong.append(Check("qa-wrong", f"{s.id} vs {other.id}", qa_messages(s.question, s.answer, other.answer),
                               ("no",)))
    return right + wrong


def set_sha256(checks: list[Check]) -> str:
    blob = json.dumps([[c.part, c.messages, list(c.expected)] for c in checks], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# -- asking ---------------------------------------------------------------------------------------
@dataclass
class Outcome:
    check: Check
    got: list[str] | None  # the labels (AutoDQ) or the verdict (QA); None when the judge gave no valid answer
    reason: str | None = None

    def agreeing(self) -> int:
        if self.got is None:
            return 0
        return sum((e == ENTAILED and g == ENTAILED) or (e == NOT_ENTAILED and g != ENTAILED) or e == g
                   for e, g in zip(self.check.expected, self.got))


async def ask_checks(config: Any, checks: list[Check]) -> tuple[list[Outcome], dict[str, Any]]:
    """Every check asked live (no cache) of the judge `config` (a ClientConfig); the outcomes and its usage."""
    from harness.client.core import ModelClient
    from harness.metric import bounded_map
    from harness.metrics.autodq import MAX_ATTEMPTS, make_entail_parser
    from harness.metrics.open_qa import parse_verdict

    client = ModelClient(config.model_copy(update={"cache": False, "mode": "online"}))
    outcomes: list[Outcome] = []

    async def one(check: Check) -> Outcome:
        if check.part.startswith("entail"):
            ans = await client.ask(check.messages, make_entail_parser(len(check.expected)), MAX_ATTEMPTS)
            got = [j["relationship"] for j in ans.value] if ans.ok else None
        else:
            ans = await client.ask(check.messages, parse_verdict, MAX_ATTEMPTS)
            got = [ans.value["pred"]] if ans.ok else None
        return Outcome(check, got, ans.reason)

    try:
        await bounded_map(checks, one, outcomes.append, window=2 * config.concurrency)
    finally:
        await client.aclose()
    order = {id(c): i for i, c in enumerate(checks)}
    outcomes.sort(key=lambda o: order[id(o.check)])
    return outcomes, client.usage()


@dataclass
class Verdict:
    name: str
    outcomes: list[Outcome]
    threshold: float
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return sum(len(o.check.expected) for o in self.outcomes)

    @property
    def n_agree(self) -> int:
        return sum(o.agreeing() for o in self.outcomes)

    @property
    def agreement(self) -> float | None:
        return self.n_agree / self.n if self.n else None

    def parts(self) -> dict[str, dict[str, Any]]:
        out = {}
        for part in PARTS:
            mine = [o for o in self.outcomes if o.check.part == part]
            if mine:
                n = sum(len(o.check.expected) for o in mine)
                agree = sum(o.agreeing() for o in mine)
                out[part] = {"questions": len(mine), "n": n, "agree": agree, "agreement": agree / n,
                             "failed_questions": sum(o.got is None for o in mine)}
        return out

    def weakest(self) -> tuple[str, dict[str, Any]] | None:
        parts = self.parts()
        return min(parts.items(), key=lambda kv: kv[1]["agreement"]) if parts else None

    @property
    def passed(self) -> bool:
        weakest = self.weakest()
        return weakest is not None and weakest[1]["agreement"] >= self.threshold

    def to_json(self) -> dict[str, Any]:
        parts = self.parts()
        misses = [{"part": o.check.part, "sample": o.check.sample_id, "expected": list(o.check.expected),
                   "got": o.got, "reason": o.reason} for o in self.outcomes if o.agreeing() < len(o.check.expected)]
        return {"name": self.name, "n": self.n, "agree": self.n_agree, "agreement": self.agreement,
                "threshold": self.threshold, "passed": self.passed, "parts": parts, "misses": misses[:20],
                "n_misses": len(misses), "answered": self.usage.get("answered", []),
                "calls": self.usage.get("calls", 0)}

    def line(self, set_hash: str) -> str:
        """One line: the judge, its agreement with the known answers (overall and its weakest part), the set
        and the threshold."""
        pct = "-" if self.agreement is None else f"{100 * self.agreement:.1f}%"
        weakest = self.weakest()
        low = f"; {weakest[0]}: {100 * weakest[1]['agreement']:.1f}% of {weakest[1]['n']}" if weakest else ""
        return (f"judge {self.name} gives {pct} of {self.n} known answers{low} (check set {set_hash[:12]}, "
                f"threshold {100 * self.threshold:g}% per part)")


def run_check(judges: list[tuple[str, Any]], checks: list[Check], threshold: float) -> list[Verdict]:
    """Ask every judge (name, ClientConfig) the checks; one Verdict each."""
    out = []
    for name, config in judges:
        outcomes, usage = asyncio.run(ask_checks(config, checks))
        out.append(Verdict(name, outcomes, threshold, usage))
    return out


def checks_for(metric: str, samples: list[Sample], n: int = DEFAULT_N) -> list[Check]:
    """The checks a judged metric's scoring run asks first (`harness run --judge-check`)."""
    if metric == "autodq":
        return autodq_checks(samples, n)
    if metric == "open_qa":
        return qa_checks(samples, n)
    return []
