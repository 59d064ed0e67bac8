"""AutoDQ for DREAM-1K, exactly as PROTOCOLS.md specifies (the published Tarsier protocol).

Per sample (R = reference description, P = prediction, E_gt = annotated events):
- R' = lower(R), P' = lower(P); events keep their case;
- E_pred = Prompt A (event extraction) on P' with every `"` replaced by `'`
  (E_gt likewise from R' when the annotation has no events list);
- recall = entailed share of E_gt under Prompt B with description P';
  precision = entailed share of E_pred under Prompt B with description R';
- only `entailment` is a hit; an empty event list scores 1.0, and the judge is still asked, with the
  other side's whole text (newlines -> spaces) as the single event;
- Prompt A answers are parsed as a Python literal after stripping a leading code fence; Prompt B
  answers go through the protocol's repair steps and then JSON; invalid answers are re-asked, at most
  10 attempts per question (API failures count), then the sample fails with its reason: counted per
  subset, excluded from the means, retried on the next run. A failure is never scored 0 or 1.

Aggregate (successful samples only): per subset (sorted) mean R and P and F1 of the two; overall R and
P are unweighted means over subsets and F1 = 2RP/(R+P) (not a mean of F1s). Buckets by the
annotation's n_subjects, n_shots, n_events (first match wins): mean R, mean P, their F1, count.
All recall/precision/F1 values are stored x100 (the leaderboard shows them with one decimal).
Both protocols (strict, tarsier) score AutoDQ the same way: a judge failure is not the model's answer.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import re
from collections import defaultdict
from typing import Any, Callable

from harness.metric import Aggregate, Metric, Row, ScoreContext
from harness.types import Prediction, Sample, SampleScore

MAX_ATTEMPTS = 10
CLASSES = ("entailment", "neutral", "contradiction")

# Prompt A, verbatim from PROTOCOLS.md ("Bellow" and "Requirements\n:" included).
EXTRACT_PROMPT = """Bellow is a description of a video clip:
Video Description: {caption}

Extract at most 10 key events from the above video description paragraph. Requirements
:- An event must include an action, motion or movement (NOT STATIC INFORMATION). DON'T repeat same events.
- Every event is represented by a brief sentence within 10 words, with a subject, a predicate and optionally an object, avoid unnecessary appearance descriptions.
- Every event must be atomic, meaning that it cannot be further split into multiple events.
- Scene cuts and camera motions are NOT events.
- Substitute pronouns by the nouns they refer to.

Please generate the response in the form of a Python dictionary string with keys "events". The value of "events" is a List(str), of which each item is an event. DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary string. For example, your response should look like this: {"events": [event1, event2, ...]}"""

# Prompt B, verbatim from PROTOCOLS.md (two spaces before "reason" included).
ENTAIL_PROMPT = """Given a video description and a list of events. For each event, classify the relationship between the video description and the event into three classes: entailment, neutral, contradiction.
- "entailment" means that the video description entails the event.
- "contradiction" means that some detail in the video description contradicts with the event.
- "neutral" means that the relationship is neither "entailment" or "contradiction".

Video Description:
{description}

Events: {events}
Output a JSON formed as:
{
  "events": [
    {"event": "copy an event here", "relationship": "put class name here",  "reason": "give your reason here"},
    ...
  ]
}

DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only output the JSON. Output:"""

_SLOT = re.compile(r"\{(caption|description|events)\}")


def fill(template: str, **values: str) -> str:
    """Substitute {caption}/{description}/{events} in one pass (inserted text is never re-scanned)."""
    return _SLOT.sub(lambda m: values[m.group(1)], template)


def extract_messages(text_lower: str) -> list[dict[str, str]]:
    caption = text_lower.replace('"', "'")
    return [{"role": "user", "content": fill(EXTRACT_PROMPT, caption=caption)}]


def entail_messages(description: str, events: list[str], whole: str) -> list[dict[str, str]]:
    """Prompt B. An empty event list is sent as [whole text with newlines as spaces]."""
    sent = events if events else [whole.replace("\n", " ")]
    return [{"role": "user", "content": fill(ENTAIL_PROMPT, description=description, events=str(sent))}]


# -- parsing -----------------------------------------------------------------------------------
class Invalid(ValueError):
    pass


def _strip_fence(text: str) -> str:
    for fence in ("```json", "```python"):
        if text.startswith(fence):
            return text.replace(fence, "").replace("```", "").strip()
    return text


def parse_events(raw: str) -> list[str]:
    """Prompt A's answer: a Python literal dict whose `events` is a list, empty or of strings."""
    text = _strip_fence(raw)
    try:
        obj = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise Invalid(f"not a Python literal ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or "events" not in obj:
        raise Invalid("no 'events' key in a dict")
    events = obj["events"]
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise Invalid("'events' is not a list of strings")
    return events


def repair_json(raw: str) -> str:
    """The protocol's repair of a Prompt B answer, step by step, in order."""
    t = raw.strip()
    t = re.sub(r"\n+", "\n", t)
    t = re.sub(r"\s+", " ", t)
    t = _strip_fence(t)
    if not t.startswith("{"):
        t = "{" + t
    if not t.endswith("}"):
        t = t + "}"
    t = t.replace("True", "true").replace("False", "false")
    t = t.replace("} {", "}, {").replace("}{", "}, {")
    for old, new in ((",\n}", "\n}"), (", \n}", "\n}"), (", }", "}"), (",}", "}"),  # trailing commas
                     (",\n]", "\n]"), (", \n]", "\n]"), (", ]", "]"), (",]", "]")):
        t = t.replace(old, new)
    t = t.replace("[Placeholder]", "null")
    t = t.replace("{Events:", "").strip()
    return t


def make_entail_parser(n_events: int) -> Callable[[str], list[dict[str, Any]]]:
    """Prompt B's answer: repaired JSON, one judgement per event sent, each with a known class."""

    def parse(raw: str) -> list[dict[str, Any]]:
        try:
            obj = json.loads(repair_json(raw))
        except (ValueError, RecursionError) as exc:
            raise Invalid(f"not JSON after repair ({type(exc).__name__})") from None
        if not isinstance(obj, dict) or "events" not in obj:
            raise Invalid("no 'events' key in a JSON object")
        items = obj["events"]
        if not isinstance(items, list):
            raise Invalid("'events' is not a list")
        if not (len(items) == n_events or (n_events == 0 and len(items) == 1)):
            raise Invalid(f"{len(items)} judgements for {n_events} events")
        out = []
        for item in items:
            rel = item.get("relationship") if isinstance(item, dict) else None
            if not isinstance(rel, str) or rel.strip().lower() not in CLASSES:
                raise Invalid(f"unknown relationship {str(rel)[:40]!r}")
            reason = item.get("reason")
            out.append({"relationship": rel.strip().lower(),
                        "reason": reason if isinstance(reason, str) else (None if reason is None else str(reason)),
                        "judge_event": item.get("event") if isinstance(item.get("event"), str) else None})
        return out

    return parse


# -- buckets -----------------------------------------------------------------------------------
# (family, annotation key, [(label, test)]): explicit comparisons, the first match wins.
BUCKETS: list[tuple[str, str, list[tuple[str, Callable[[float], bool]]]]] = [
    ("subjects", "n_subjects", [("<=1", lambda n: n <= 1), ("==2", lambda n: n == 2),
                                ("==3", lambda n: n == 3), (">=4", lambda n: n >= 4)]),
    ("shots", "n_shots", [("<=1", lambda n: n <= 1), ("==2", lambda n: n == 2),
                          ("==3", lambda n: n == 3), (">=4", lambda n: n >= 4)]),
    ("events", "n_events", [("<=3", lambda n: n <= 3), ("4-5", lambda n: n == 4 or n == 5),
                            ("6-7", lambda n: n == 6 or n == 7), (">=8", lambda n: n >= 8)]),
]


def bucket_of(family_tests: list[tuple[str, Callable[[float], bool]]], value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    for label, test in family_tests:
        if test(value):
            return label
    return None


def mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def f1(r: float | None, p: float | None) -> float | None:
    if r is None or p is None:
        return None
    return 0.0 if r + p == 0 else 2 * r * p / (r + p)


def x100(v: float | None) -> float | None:
    return None if v is None else 100.0 * v


# -- the metric --------------------------------------------------------------------------------
class AutoDQ(Metric):
    name = "autodq"
    headline = "f1"
    needs_judge = True
    gold = "description"

    async def score(self, sample: Sample, prediction: Prediction, ctx: ScoreContext) -> SampleScore:
        judge = ctx.judge
        reference = sample.references[0] if sample.references else ""
        r_low, p_low = reference.lower(), (prediction.text or "").lower()
        gt = sample.extra.get("events")
        keys: list[str] = []
        fields: dict[str, Any] = {}
        failures: list[str] = []

        async def extract(text_lower: str, what: str) -> list[str] | None:
            ans = await judge.ask(extract_messages(text_lower), parse_events, MAX_ATTEMPTS)
            keys.extend(ans.keys)
            if not ans.ok:
                failures.append(f"{what}: {ans.reason}")
                return None
            return ans.value

        async def entail(description: str, events: list[str], whole: str, what: str):
            ans = await judge.ask(entail_messages(description, events, whole), make_entail_parser(len(events)),
                                  MAX_ATTEMPTS)
            keys.extend(ans.keys)
            if not ans.ok:
                failures.append(f"{what}: {ans.reason}")
                return None
            sent = events if events else [whole.replace("\n", " ")]
            judged = [{"event": e, "label": j["relationship"], "reason": j["reason"]} for e, j in zip(sent, ans.value)]
            hits = sum(j["label"] == "entailment" for j in judged)
            score = 1.0 if not events else hits / len(events)
            return score, hits, judged

        async def recall_side():
            events = gt if isinstance(gt, list) else None
            if events is None:
                events = await extract(r_low, "reference event extraction")
                if events is None:
                    return None
                fields["events_gt_extracted"] = events
            out = await entail(p_low, events, r_low, "recall")
            return None if out is None else (out, len(events))

        async def precision_side():
            events = await extract(p_low, "prediction event extraction")
            if events is None:
                return None
            fields["events_pred"] = events
            out = await entail(r_low, events, p_low, "precision")
            return None if out is None else (out, len(events))

        results = await asyncio.gather(recall_side(), precision_side(), return_exceptions=True)
        for res in results:  # a run-stopping error (budget, unavailable judge) or a bug
            if isinstance(res, BaseException):
                raise res
        rec, prec = results
        if rec is None or prec is None:
            return SampleScore(sample_id=sample.id, status="failed", reason="judge: " + "; ".join(failures),
                               fields=fields, judge_calls=keys)
        (r, r_hits, r_judged), n_gt = rec
        (p, p_hits, p_judged), n_pred = prec
        fields.update({
            "recall": r, "precision": p,
            "hits_recall": r_hits, "n_events_gt": n_gt,
            "hits_precision": p_hits, "n_events_pred": n_pred,
            "recall_events": r_judged, "precision_events": p_judged,
        })
        return SampleScore(sample_id=sample.id, fields=fields, judge_calls=keys)

    # -- aggregation ---------------------------------------------------------------------------
    @staticmethod
    def _subset(sample: Sample) -> str:
        return sample.groups.get("subset") or sample.dataset

    def headline_values(self, rows: list[Row], protocol: str) -> dict[str, float | None]:
        by_subset: dict[str, list[SampleScore]] = defaultdict(list)
        for s, sc in rows:
            if sc.ok:
                by_subset[self._subset(s)].append(sc)
        R = mean([mean([sc.fields["recall"] for sc in g]) for g in by_subset.values()])
        P = mean([mean([sc.fields["precision"] for sc in g]) for g in by_subset.values()])
        return {"f1": x100(f1(R, P)), "precision": x100(P), "recall": x100(R)}

    def per_sample_values(self, rows: list[Row], protocol: str) -> dict[str, Any] | None:
        """Bootstrap fast path: one recall and one precision column per subset (NaN elsewhere)."""
        import numpy as np

        names = [self._subset(s) for s, _ in rows]
        cols: dict[str, Any] = {}
        for name in sorted(set(names)):
            for field in ("recall", "precision"):
                cols[f"{field}:{name}"] = np.array(
                    [sc.fields[field] if n == name else np.nan for n, (_, sc) in zip(names, rows)], dtype=np.float64)
        return cols

    def combine_means(self, means: dict[str, Any], protocol: str) -> dict[str, Any]:
        import numpy as np

        def macro(field: str):
            m = np.column_stack([np.asarray(means[k], dtype=np.float64) for k in sorted(means)
                                 if k.startswith(field + ":")])
            present = ~np.isnan(m)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(present, m, 0.0).sum(axis=1) / present.sum(axis=1)

        R, P = macro("recall"), macro("precision")
        with np.errstate(invalid="ignore", divide="ignore"):
            F = np.where(R + P == 0, 0.0, 2 * R * P / (R + P))
        return {"f1": 100.0 * F, "precision": 100.0 * P, "recall": 100.0 * R}

    def aggregate(self, rows: list[Row], protocol: str) -> Aggregate:
        ok = [(s, sc) for s, sc in rows if sc.ok]
        by_subset: dict[str, list[Row]] = defaultdict(list)
        failed: dict[str, int] = defaultdict(int)
        for s, sc in rows:
            if sc.ok:
                by_subset[self._subset(s)].append((s, sc))
            else:
                failed[self._subset(s)] += 1
        groups: dict[str, dict[str, float | int | None]] = {}
        subset_r: list[float] = []
        subset_p: list[float] = []
        for name in sorted(set(by_subset) | set(failed)):
            g = by_subset.get(name, [])
            r = mean([sc.fields["recall"] for _, sc in g])
            p = mean([sc.fields["precision"] for _, sc in g])
            if g:  # a subset enters the overall means only with at least one successful sample
                subset_r.append(r)
                subset_p.append(p)
            groups[f"subset={name}"] = {"f1": x100(f1(r, p)), "precision": x100(p), "recall": x100(r),
                                        "n": len(g), "n_failed": failed.get(name, 0)}
        R, P = mean(subset_r), mean(subset_p)
        buckets: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for family, key, tests in BUCKETS:
            members: dict[str, list[Row]] = {label: [] for label, _ in tests}
            for s, sc in ok:
                label = bucket_of(tests, s.extra.get(key))
                if label is not None:
                    members[label].append((s, sc))
            buckets[family] = {}
            for label, _ in tests:
                m = members[label]
                r = mean([sc.fields["recall"] for _, sc in m])
                p = mean([sc.fields["precision"] for _, sc in m])
                values = {"f1": x100(f1(r, p)), "precision": x100(p), "recall": x100(r), "n": len(m)}
                buckets[family][label] = values
                groups[f"{family} {label}"] = values
        return Aggregate(
            metrics={"f1": x100(f1(R, P)), "precision": x100(P), "recall": x100(R)},
            groups=groups,
            n_scored=len(ok),
            extra={"scale": "x100", "subsets": len(subset_r), "buckets": buckets},
        )
