"""Multiple-choice accuracy with Tarsier's answer parser and both protocols (PROTOCOLS.md).

strict:  an invalid answer counts as wrong; n_invalid is reported beside accuracy. A letter that is
         not one of the sample's options is invalid too ("I am not sure" reads as I, "The answer
         is (C)" as T).
tarsier: Tarsier's parser bit for bit (any upper-case letter is a valid choice); invalid answers
         leave the denominator; MVBench is the unweighted mean over subtasks; Video-MME drops
         every question of a video with an invalid answer.
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
        if protocol == "tarsier":
            rows = self._tarsier_rows(rows)
        metrics = {"accuracy": self._accuracy(rows, protocol)}
        groups: dict[str, dict] = {}
        by_group: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            for key, value in row[0].groups.items():
                by_group[f"{key}={value}"].append(row)
        for name in sorted(by_group):
            g = by_group[name]
            groups[name] = {"accuracy": self._accuracy(g, protocol), "n": len(g)}
        subtask_accs = [v["accuracy"] for k, v in groups.items() if k.startswith("subtask=")]
        if subtask_accs and protocol == "tarsier":
            # MVBench: unweighted mean over subtasks that have at least one valid answer
            valid = [a for a in subtask_accs if a is not None]
            metrics["accuracy"] = sum(valid) / len(valid) if valid else None
        return Aggregate(metrics=metrics, groups=groups, n_scored=len(rows), n_invalid=n_invalid)

    # -- fast bootstrap path (harness.stats): accuracy is a mean of per-sample 0/100 values --
    def per_sample_values(self, rows: list[Row], protocol: str):
        import numpy as np

        rows = ok_rows(rows)
        bad: set[str] = set()
        if protocol == "tarsier" and any("duration" in s.groups for s, _ in rows):
            bad = {s.cluster for s, sc in rows if not sc.fields["valid"]}
        values = np.array([
            np.nan if protocol == "tarsier" and (not sc.fields["valid"] or s.cluster in bad)
            else (100.0 if sc.fields["correct"] else 0.0)
            for s, sc in rows
        ])
        subtasks = [s.groups.get("subtask") for s, _ in rows]
        if protocol != "tarsier" or all(t is None for t in subtasks):
            return {"accuracy": values}
        # MVBench under tarsier: one column per subtask, averaged unweighted in combine_means
        names = np.array([t if t is not None else "" for t in subtasks], dtype=object)
        return {f"accuracy|{t}": np.where(names == t, values, np.nan) for t in sorted(set(names) - {""})}

    def combine_means(self, means, protocol: str):
        import numpy as np

        per_task = [v for k, v in means.items() if k.startswith("accuracy|")]
        if not per_task:
            return means
        stacked = np.vstack(per_task)  # subtasks x resamples; NaN = no valid answer there
        n = (~np.isnan(stacked)).sum(axis=0)
        total = np.where(np.isnan(stacked), 0.0, stacked).sum(axis=0)
        return {"accuracy": np.where(n > 0, total / np.maximum(n, 1), np.nan)}

    @staticmethod
    def _accuracy(rows: list[Row], protocol: str) -> float | None:
        if protocol == "tarsier":
            rows = [r for r in rows if r[1].fields["valid"]]
        return pct(sum(bool(sc.fields["correct"]) for _, sc in rows), len(rows))

    @staticmethod
    def _tarsier_rows(rows: list[Row]) -> list[Row]:
        """Video-MME under tarsier: one invalid answer removes every question of that video."""
        if not any("duration" in s.groups for s, _ in rows):
            return rows
        bad = {s.cluster for s, sc in rows if not sc.fields["valid"]}
        return [(s, sc) for s, sc in rows if s.cluster not in bad]
