"""Judge audits: one run's predictions judged by several judges, and each judge asked several times.

Each judge scores the predictions through the normal scoring path (harness.runner.score): its score folder
`scores/<hash>/` is exactly the one `harness rescore --judge-model ...` writes, and nothing already judged is
asked again (finished scores are kept, answers come from the cache). Repeats of a judge (`--judge-repeats K`)
ask every judge question again under the client's repeat number (harness.client: its own cache entries);
their scores live in `audits/repeats/<score-hash>/r<k>[-t<temperature>]/`, out of sight of the board, the
published records and `harness compare`. Repeat 0 is the judge's own score folder, unless a temperature is
given for the repeats (the protocol sends none): then all K repeats are asked at that temperature.

The audit (harness.judge_audit.audit) compares every pair of judges on the samples both scored:
- AutoDQ: the per-event labels (entailment / neutral / contradiction) where both judges labelled the same
  events (always the annotated events on the recall side; on the precision side, where both extracted the
  same events), with Cohen's kappa and a confusion table; the agreement of the extracted-event counts; the
  per-sample F1 difference;
- open-ended QA: yes/no agreement, kappa, confusion table, the correlation of the 0-5 scores;
- for both: the paired difference B - A of the headline values, with the clustered bootstrap interval and
  the sign-flip permutation p-value that `harness compare` gives (harness.stats), and the samples where the
  judges disagree most, with their permalinks into the per-sample explorer;
- with repeats, per judge: the spread of the headline values over the repeats (the judge's own variance, on
  the samples every repeat scored) beside the interval the bootstrap over videos gives, and each repeat's
  label agreement with repeat 0.
It is written to `<run>/audits/<hash>.json` (the hash of the run, the judges' score folders and the audit's
settings), where the leaderboard finds it (harness.leaderboard.audits).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from harness import agreement, stats
from harness.errors import BadInput
from harness.jsonl import write_json_atomic
from harness.metric import Metric
from harness.store import RunStore, load_model
from harness.types import Result, Sample, SampleScore, ScoreSpec, content_hash

SCHEMA = 1
AUDITS = "audits"
MAX_JUDGES = 8
_JUDGE = re.compile(r"(?P<model>[^@\s]+)(?:@(?P<url>https?://\S+))?")


def parse_judge(text: str) -> tuple[str, str | None]:
    """'MODEL' or 'MODEL@BASE_URL' (an OpenAI-compatible endpoint) -> (model, base URL or None)."""
    m = _JUDGE.fullmatch(text.strip())
    if m is None:
        raise BadInput(f"--judge {text!r}: write MODEL or MODEL@BASE_URL (e.g. gpt-4o-mini@http://127.0.0.1:8000/v1)")
    return m.group("model"), m.group("url")


def explorer_link(bench: str, sample_id: str, spec_hash: str, page: str | None = None) -> str:
    """The explorer's permalink of one sample of one run (leaderboard/static/explorer.js reads s= and run=).

    `page`: the run's explorer page relative to the site root (default: the benchmark's main explorer)."""
    from harness.results import slugify

    page = page or f"explore/{slugify(bench)}/index.html"
    return f"{page.split('#', 1)[0]}#{urlencode([('s', sample_id), ('run', spec_hash)])}"


# -- scoring under each judge ----------------------------------------------------------------------
@dataclass
class Scoring:
    """One judge's scores of the run (its score folder, or one repeat's folder)."""

    result: Result
    scores: dict[str, SampleScore]
    folder: Path
    usage: dict[str, Any] | None  # this invocation's calls (None: nothing was left to judge)


@dataclass
class AuditedJudge:
    label: str  # A, B, ...
    name: str  # MODEL or MODEL@URL, without credentials
    spec: ScoreSpec
    main: Scoring
    repeats: list[Scoring] = field(default_factory=list)  # repeat 0..K-1 (none without --judge-repeats)


class RepeatStore(RunStore):
    """The run seen through one repeat's folder: runner.score writes its scores and result there."""

    def __init__(self, store: RunStore, folder: Path):
        super().__init__(store.dir, store.spec)
        self.folder = folder

    def score_dir(self, score_spec: ScoreSpec) -> Path:
        if not (self.folder / "score_spec.json").exists():
            write_json_atomic(self.folder / "score_spec.json", score_spec.model_dump(mode="json"))
        return self.folder

    def results(self) -> list[tuple[ScoreSpec, Result]]:
        spec, res = self.folder / "score_spec.json", self.folder / "result.json"
        return [(load_model(ScoreSpec, spec), load_model(Result, res))] if res.exists() else []


def repeat_folder(store: RunStore, spec: ScoreSpec, repeat: int, temperature: float | None) -> Path:
    name = f"r{repeat}" + (f"-t{temperature:g}" if temperature is not None else "")
    return store.dir / AUDITS / "repeats" / spec.hash() / name


@dataclass
class Plan:
    """What to score: the run, its samples, and the judges' client configs (harness.client.config)."""

    store: RunStore
    samples: list[Sample]  # the run's (after its --limit)
    file_samples: list[Sample]  # every sample of the annotation file
    status: str  # harness.annotations.annotations_status
    metric: Metric
    protocol: str
    judges: list[tuple[str, Any]]  # (name, ClientConfig)
    repeats: int = 1
    temperature: float | None = None
    progress: bool = True


def score_judges(plan: Plan) -> list[AuditedJudge]:
    """Score the run under every judge (and every repeat), resuming whatever is done. Hold the run's lock."""
    from harness.runner import score

    specs = [ScoreSpec(metric=plan.metric.name, protocol=plan.protocol, judge=cfg.spec()) for _, cfg in plan.judges]
    seen: dict[str, str] = {}
    for (name, _), spec in zip(plan.judges, specs):
        if spec.hash() in seen:
            raise BadInput(f"--judge {name} is the same judge as --judge {seen[spec.hash()]}; give different judges")
        seen[spec.hash()] = name

    def run(store: RunStore, spec: ScoreSpec, config) -> Scoring:
        result = score(store, plan.samples, plan.metric, spec, config, plan.progress, len(plan.file_samples),
                       plan.file_samples, plan.status)
        return Scoring(result, store.scores(spec), store.score_dir(spec), result.extra.get("judge_usage"))

    out = []
    for i, ((name, config), spec) in enumerate(zip(plan.judges, specs)):
        judged = AuditedJudge(chr(ord("A") + i), name, spec, run(plan.store, spec, config))
        for r in range(plan.repeats if plan.repeats > 1 else 0):
            if r == 0 and plan.temperature is None:
                judged.repeats.append(judged.main)  # repeat 0 at the protocol's settings: the judge's own scores
                continue
            params = dict(config.params) if plan.temperature is None else {**config.params,
                                                                          "temperature": plan.temperature}
            again = config.model_copy(update={"repeat": r, "params": params})
            folder = repeat_folder(plan.store, spec, r, plan.temperature)
            judged.repeats.append(run(RepeatStore(plan.store, folder), spec, again))
        out.append(judged)
    return out


# -- comparing two judges' scores -------------------------------------------------------------------
Triple = tuple[Sample, SampleScore, SampleScore]  # a sample, judge A's score, judge B's score


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _diffs(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """B - A over paired numbers: mean difference, mean absolute difference, share that differ."""
    d = [b - a for a, b in pairs]
    return {"n": len(d), "mean_a": _mean([a for a, _ in pairs]), "mean_b": _mean([b for _, b in pairs]),
            "mean_diff": _mean(d), "mean_abs_diff": _mean([abs(x) for x in d]),
            "share_different": _mean([float(abs(x) > 1e-12) for x in d])}


class AutoDQAudit:
    classes = ("entailment", "neutral", "contradiction")  # harness.metrics.autodq.CLASSES
    sides = ("recall", "precision")

    def _aligned(self, a: SampleScore, b: SampleScore, side: str) -> list[tuple[str, str]] | None:
        """The label pairs of one side, when both judges labelled the same events (None otherwise)."""
        ea, eb = a.fields.get(f"{side}_events") or [], b.fields.get(f"{side}_events") or []
        if [e.get("event") for e in ea] != [e.get("event") for e in eb]:
            return None
        return [(x["label"], y["label"]) for x, y in zip(ea, eb)]

    def labels(self, common: list[Triple]) -> dict[str, Any]:
        pairs: dict[str, list[tuple[str, str]]] = {side: [] for side in self.sides}
        unaligned = {side: 0 for side in self.sides}
        for _, a, b in common:
            for side in self.sides:
                got = self._aligned(a, b, side)
                if got is None:
                    unaligned[side] += 1
                else:
                    pairs[side] += got
        out = agreement.summary(pairs["recall"] + pairs["precision"], self.classes)
        out["by_side"] = {side: {"n": len(p), "agreement": agreement.agreement(p),
                                 "kappa": agreement.cohen_kappa(p, self.classes),
                                 "samples_not_aligned": unaligned[side]} for side, p in pairs.items()}
        return out

    @staticmethod
    def f1(sc: SampleScore) -> float:
        r, p = sc.fields["recall"], sc.fields["precision"]
        return 0.0 if r + p == 0 else 100.0 * 2 * r * p / (r + p)

    def details(self, common: list[Triple]) -> dict[str, Any]:
        counts = [(float(a.fields.get("n_events_pred", 0)), float(b.fields.get("n_events_pred", 0)))
                  for _, a, b in common]
        return {"extracted_events": _diffs(counts),  # share_different: the samples whose counts differ
                "per_sample_f1": _diffs([(self.f1(a), self.f1(b)) for _, a, b in common])}

    def disagreement(self, s: Sample, a: SampleScore, b: SampleScore) -> dict[str, Any]:
        differ = sum(x != y for side in self.sides for x, y in (self._aligned(a, b, side) or []))
        fa, fb = self.f1(a), self.f1(b)
        return {"sample_id": s.id, "size": abs(fb - fa), "labels_differ": differ,
                "a": {"f1": fa, "recall": 100 * a.fields["recall"], "precision": 100 * a.fields["precision"],
                      "n_events_pred": a.fields.get("n_events_pred")},
                "b": {"f1": fb, "recall": 100 * b.fields["recall"], "precision": 100 * b.fields["precision"],
                      "n_events_pred": b.fields.get("n_events_pred")},
                "diff": fb - fa}

    @staticmethod
    def rank(d: dict[str, Any]) -> tuple:
        return (-d["size"], -d["labels_differ"])


class OpenQAAudit:
    classes = ("yes", "no")

    def labels(self, common: list[Triple]) -> dict[str, Any]:
        return agreement.summary([(a.fields["pred"], b.fields["pred"]) for _, a, b in common], self.classes)

    def details(self, common: list[Triple]) -> dict[str, Any]:
        xs = [float(a.fields["score"]) for _, a, _ in common]
        ys = [float(b.fields["score"]) for _, _, b in common]
        return {"scores": {**_diffs(list(zip(xs, ys))), "pearson": agreement.pearson(xs, ys)}}

    def disagreement(self, s: Sample, a: SampleScore, b: SampleScore) -> dict[str, Any]:
        sa, sb = float(a.fields["score"]), float(b.fields["score"])
        return {"sample_id": s.id, "size": abs(sb - sa), "labels_differ": int(a.fields["pred"] != b.fields["pred"]),
                "a": {"pred": a.fields["pred"], "score": sa}, "b": {"pred": b.fields["pred"], "score": sb},
                "diff": sb - sa}

    @staticmethod
    def rank(d: dict[str, Any]) -> tuple:
        return (-d["labels_differ"], -d["size"])


COMPARERS = {"autodq": AutoDQAudit, "open_qa": OpenQAAudit}


def comparer_for(metric: Metric):
    try:
        return COMPARERS[metric.name]()
    except KeyError:
        raise BadInput(f"metric {metric.name} has no judge to audit (judged metrics: "
                       f"{', '.join(sorted(COMPARERS))})") from None


def _common(samples: list[Sample], a: dict[str, SampleScore], b: dict[str, SampleScore]) -> list[Triple]:
    return [(s, a[s.id], b[s.id]) for s in samples if s.id in a and s.id in b and a[s.id].ok and b[s.id].ok]


@dataclass
class Settings:
    resamples: int = stats.N_RESAMPLES
    seed: int = stats.SEED
    top: int = 10  # disagreeing samples listed per pair


def compare_pair(metric: Metric, protocol: str, samples: list[Sample], bench: str, spec_hash: str,
                 a: AuditedJudge, b: AuditedJudge, settings: Settings) -> dict[str, Any]:
    comparer = comparer_for(metric)
    common = _common(samples, a.main.scores, b.main.scores)
    out: dict[str, Any] = {"a": a.label, "b": b.label, "n_common": len(common)}
    if not common:
        return {**out, "n_clusters": 0, "labels": None, "headline": {}, "disagreements": []}
    cmp = stats.paired_compare(metric, [(s, x) for s, x, _ in common], [(s, y) for s, _, y in common], protocol,
                               n_resamples=settings.resamples, seed=settings.seed)
    headline = {k: {"a": cmp.a[k], "b": cmp.b[k], "diff": cmp.diff[k],
                    "interval": list(cmp.intervals[k]) if k in cmp.intervals else None,
                    "p_value": cmp.p_values.get(k), "p_text": stats.format_p(cmp.p_values.get(k), cmp.n_resamples)}
                for k in cmp.keys}
    found = [comparer.disagreement(s, x, y) for s, x, y in common]
    worst = sorted((d for d in found if d["size"] > 1e-12 or d["labels_differ"]), key=comparer.rank)[:settings.top]
    for d in worst:
        d["explorer"] = explorer_link(bench, d["sample_id"], spec_hash)
    return {**out, "n_clusters": cmp.n_clusters, "labels": comparer.labels(common), **comparer.details(common),
            "headline": headline, "interval_method": cmp.interval_method, "test_method": cmp.test_method,
            "disagreements": worst, "n_disagreeing": sum(1 for d in found if d["size"] > 1e-12 or d["labels_differ"])}


def repeat_spread(metric: Metric, protocol: str, samples: list[Sample], judge: AuditedJudge,
                  run_dir: Path) -> dict[str, Any] | None:
    """The judge's own variance: its headline values over the repeats, on the samples every repeat scored."""
    reps = judge.repeats
    if len(reps) < 2:
        return None
    comparer = comparer_for(metric)
    ids = [s for s in samples if all(s.id in r.scores and r.scores[s.id].ok for r in reps)]
    values = [metric.headline_values([(s, r.scores[s.id]) for s in ids], protocol) if ids else {} for r in reps]
    spread = {}
    for key in values[0] if ids else [metric.headline]:
        vals = [v.get(key) for v in values]
        nums = [float(v) for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        iv = judge.main.result.intervals.get(key)
        spread[key] = {"values": vals, "mean": _mean(nums), "sd": statistics.stdev(nums) if len(nums) > 1 else None,
                       "min": min(nums) if nums else None, "max": max(nums) if nums else None,
                       "video_interval": list(iv) if iv else None}
    self_agreement = []
    for r, rep in enumerate(reps[1:], 1):
        lab = comparer.labels([(s, reps[0].scores[s.id], rep.scores[s.id]) for s in ids])
        self_agreement.append({"repeat": r, "n": lab["n"], "agreement": lab["agreement"], "kappa": lab["kappa"]})
    return {"k": len(reps), "n_common": len(ids), "spread": spread, "self_agreement": self_agreement,
            "n_failed": [r.result.n_failed for r in reps],
            "folders": [r.folder.relative_to(run_dir).as_posix() for r in reps]}


# -- the audit --------------------------------------------------------------------------------------
def _judge_view(j: AuditedJudge, run_dir: Path, spread: dict | None) -> dict[str, Any]:
    res = j.main.result
    return {
        "label": j.label, "name": j.name, "model": j.spec.judge.model, "base_url": j.spec.judge.base_url,
        "provider": j.spec.judge.provider, "score_hash": j.spec.hash(),
        "folder": j.main.folder.relative_to(run_dir).as_posix(),
        "metric": res.metric, "metrics": res.metrics, "intervals": {k: list(v) for k, v in res.intervals.items()},
        "interval_method": res.interval_method, "n_total": res.n_total, "n_scored": res.n_scored,
        "n_failed": res.n_failed, "failed_reasons": res.failed_reasons,
        "identity": res.judge.model_dump(mode="json") if res.judge is not None else None,
        "repeats": spread,
    }


def _calls(judges: list[AuditedJudge]) -> dict[str, int]:
    seen: dict[int, Scoring] = {}
    for j in judges:
        for s in (j.main, *j.repeats):
            seen[id(s)] = s
    usage = [s.usage or {} for s in seen.values()]
    return {k: sum(int(u.get(k) or 0) for u in usage) for k in ("calls", "batch_calls", "cache_hits")}


def audit_id(store: RunStore, judges: list[AuditedJudge], protocol: str, repeats: int,
             temperature: float | None, settings: Settings) -> str:
    return content_hash({"run": store.spec.hash(), "judges": [j.spec.hash() for j in judges], "protocol": protocol,
                         "repeats": repeats, "temperature": temperature, "resamples": settings.resamples,
                         "seed": settings.seed, "top": settings.top})


def audit(plan: Plan, judges: list[AuditedJudge], settings: Settings) -> dict[str, Any]:
    import harness

    store, metric, samples = plan.store, plan.metric, plan.samples
    bench, spec_hash = store.spec.benchmark, store.spec.hash()
    pairs = [compare_pair(metric, plan.protocol, samples, bench, spec_hash, a, b, settings)
             for i, a in enumerate(judges) for b in judges[i + 1:]]
    return _finite({
        "schema": SCHEMA, "kind": "judge-audit",
        "id": audit_id(store, judges, plan.protocol, plan.repeats, plan.temperature, settings),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "harness_version": harness.__version__,
        "run": {"spec_hash": spec_hash, "model": store.model_name, "benchmark": bench,
                "annotation_sha256": store.spec.annotation_sha256, "n_samples": len(samples)},
        "metric": metric.name, "headline": metric.headline, "protocol": plan.protocol,
        "settings": {"resamples": settings.resamples, "seed": settings.seed, "top": settings.top,
                     "repeats": plan.repeats, "temperature": plan.temperature},
        "judges": [_judge_view(j, store.dir, repeat_spread(metric, plan.protocol, samples, j, store.dir))
                   for j in judges],
        "pairs": pairs,
        "usage": _calls(judges),
    })


def write_audit(store: RunStore, report: dict[str, Any]) -> Path:
    path = store.dir / AUDITS / f"{report['id']}.json"
    write_json_atomic(path, report)
    return path


def _finite(obj: Any) -> Any:
    """JSON-safe: NaN and infinities become None (a JSON file never holds NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
