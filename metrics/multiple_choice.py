"""Multiple-choice accuracy with Tarsier's answer parser and both protocols (PROTOCOLS.md).

strict:  an invalid answer counts as wrong; n_invalid is reported beside accuracy. A letter that is
         not one of the sample's options is invalid too ("I am not sure" reads as I, "The answer
         is (C)" as T).
tarsier: Tarsier's parser bit for bit (any upper-case letter is a valid choice); invalid answers
         leave the denominator.
A benchmark's declared protocol rules (harness.metric.ProtocolRules) do the rest: the headline as
the mean over a grouping key (MVBench: subtasks), or dropping every question of a video with an
invalid answer (Video-MME). Nothing is inferred from the names of grouping keys.
"""

from __future__ import annotations

from collections import defaultdict

from harness.metric import Aggregate, Metric, Row, ScoreContext, ok_rows, pct
from harness.types import Prediction, Sample, SampleScore


def parse_choice(text: str) -> str | None:
    """Tarsier's parser: drop parentheses, strip, first character; digits 1-5 map off by one."""
    s = text.replace("(", "").replace(")", "").strip()
    if not s:
        return None
    c = s[0]
    if c in "12345":
        c = chr(int(c) + ord("A"))  # "1" -> "B": Tarsier's off-by-one, kept for parity
    return c if "A" <= c <= "Z" else None


def option_letters(sample: Sample) -> str:
    """The letters of the options the sample lists: "ABCDE" for five."""
    return "".join(chr(ord("A") + i) for i in range(len(sample.options)))


def invalid_reason(choice: str | None, letters: str, protocol: str) -> str | None:
    """Why a parsed answer is not a valid choice under the protocol (None: it is valid)."""
    if choice is None:
        return "no choice letter"  # empty, or its first character is not a letter or 1-4
    if protocol != "tarsier" and choice not in letters:
        return f"{choice} is not one of the options {letters[0]}-{letters[-1]}"
    return None


class MultipleChoice(Metric):
    name = "multiple_choice"
    headline = "accuracy"
    reports_invalid = True
    gold = "choice"
    applies_rules = frozenset({"mean_over", "drop_video_if_invalid"})

    async def score(self, sample: Sample, prediction: Prediction, ctx: ScoreContext) -> SampleScore:
        answer = (sample.answer or "").strip()
        if not answer:
            return SampleScore(sample_id=sample.id, status="failed", reason="no answer in the annotation")
        letters = option_letters(sample)
        if not letters and ctx.protocol != "tarsier":
            return SampleScore(sample_id=sample.id, status="failed",
                               reason="no options listed in the question: strict cannot check the answer")
        choice = parse_choice(prediction.text or "")
        why = invalid_reason(choice, letters, ctx.protocol)
        fields = {"choice": choice, "valid": why is None, "correct": why is None and choice == answer}
        if why is not None:
            fields["invalid"] = why
        return SampleScore(sample_id=sample.id, fields=fields)

    def aggregate(self, rows: list[Row], protocol: str) -> Aggregate:
        rows = ok_rows(rows)
        n_invalid = sum(not sc.fields["valid"] for _, sc in rows)
        rule = self.rule(protocol)
        if rule.drop_video_if_invalid:
            rows = _drop_videos_with_invalid(rows)
        metrics = {"accuracy": self._accuracy(rows, protocol)}
        groups: dict[str, dict] = {}
        by_group: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            for key, value in row[0].groups.items():
                by_group[f"{key}={value}"].append(row)
        for name in sorted(by_group):
            g = by_group[name]
            groups[name] = {"accuracy": self._accuracy(g, protocol), "n": len(g)}
        if rule.mean_over:
            # unweighted mean over the key's groups that have at least one counted answer
            accs = [v["accuracy"] for k, v in groups.items()
                    if k.startswith(f"{rule.mean_over}=") and v["accuracy"] is not None]
            metrics["accuracy"] = sum(accs) / len(accs) if accs else None
        return Aggregate(metrics=metrics, groups=groups, n_scored=len(rows), n_invalid=n_invalid)

    # -- fast bootstrap path (harness.stats): accuracy is a mean of per-sample 0/100 values --
    def per_sample_values(self, rows: list[Row], protocol: str):
        import numpy as np

        rows = ok_rows(rows)
        rule = self.rule(protocol)
        bad = _videos_with_invalid(rows) if rule.drop_video_if_invalid else set()
        values = np.array([
            np.nan if (protocol == "tarsier" and not sc.fields["valid"]) or s.cluster in bad
            else (100.0 if sc.fields["correct"] else 0.0)
            for s, sc in rows
        ])
        if not rule.mean_over:
            return {"accuracy": values}
        # one column per value of the key, averaged unweighted in combine_means
        keys = [s.groups.get(rule.mean_over) for s, _ in rows]
        names = np.array([k if k is not None else "" for k in keys], dtype=object)
        return {f"accuracy|{k}": np.where(names == k, values, np.nan) for k in sorted(set(names) - {""})}

    def combine_means(self, means, protocol: str):
        import numpy as np

        per_group = [v for k, v in means.items() if k.startswith("accuracy|")]
        if not per_group:
            return means
        stacked = np.vstack(per_group)  # groups x resamples; NaN = no counted answer there
        n = (~np.isnan(stacked)).sum(axis=0)
        total = np.where(np.isnan(stacked), 0.0, stacked).sum(axis=0)
        return {"accuracy": np.where(n > 0, total / np.maximum(n, 1), np.nan)}

    @staticmethod
    def _accuracy(rows: list[Row], protocol: str) -> float | None:
        if protocol == "tarsier":
            rows = [r for r in rows if r[1].fields["valid"]]
        return pct(sum(bool(sc.fields["correct"]) for _, sc in rows), len(rows))


def _videos_with_invalid(rows: list[Row]) -> set[str]:
    return {s.cluster for s, sc in rows if not sc.fields["valid"]}


def _drop_videos_with_invalid(rows: list[Row]) -> list[Row]:
    """One invalid answer removes every question of that video (Video-MME under tarsier)."""
    bad = _videos_with_invalid(rows)
    return [(s, sc) for s, sc in rows if s.cluster not in bad]
