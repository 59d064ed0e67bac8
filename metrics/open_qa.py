"""Open-ended QA judged by an LLM, the Video-ChatGPT protocol as PROTOCOLS.md specifies it.

For MSVD-QA, MSR-VTT-QA, TGIF-QA, ActivityNet-QA. The judge (default gpt-35-turbo-0125, no
temperature sent) gets a system message and a user message with the question as is and the
correct and predicted answers lower-cased. Its answer is read as a Python literal: `pred` must be
'yes' or 'no' and 0 <= `score` <= 5 (kept as a float); otherwise it is re-asked, at most 10 attempts
(API failures count), then the sample fails with its reason (counted, excluded, retried on the next
run; never scored as a yes or a no).

accuracy = 100 x share of 'yes' over judged samples; score = mean score (0-5 scale).
Both protocols treat a judge failure the same way (excluded and counted).
"""

from __future__ import annotations

import ast
import math
from collections import defaultdict
from typing import Any

from harness.errors import BadInput
from harness.metric import Aggregate, Metric, Row, ScoreContext
from harness.types import Prediction, Sample, SampleScore

MAX_ATTEMPTS = 10

SYSTEM_PROMPT = """You are an intelligent chatbot designed for evaluating the correctness of generative outputs for question-answer pairs. Your task is to compare the predicted answer with the correct answer and determine if they match meaningfully. Here's how you can accomplish the task:------##INSTRUCTIONS: - Focus on the meaningful match between the predicted answer and the correct answer.
- Consider synonyms or paraphrases as valid matches.
- Evaluate the correctness of the prediction compared to the answer."""

# Two spaces in "is  a string" and no space in "STRING.DO" are part of the protocol.
USER_PROMPT = """Please evaluate the following video-based question-answer pair:

Question: {question}
Correct Answer: {answer}
Predicted Answer: {prediction}

Provide your evaluation only as a yes/no and score where the score is an integer value between 0 and 5, with 5 indicating the highest meaningful match. Please generate the response in the form of a Python dictionary string with keys 'pred' and 'score', where value of 'pred' is  a string of 'yes' or 'no' and value of 'score' is in INTEGER, not STRING.DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary string. For example, your response should look like this: {'pred': 'yes', 'score': 4.8}"""


def qa_messages(question: str, answer: str, prediction: str) -> list[dict[str, str]]:
    values = {"question": question, "answer": answer.lower(), "prediction": prediction.lower()}
    user = USER_PROMPT
    # one pass over the three slots, so inserted text is never re-scanned
    parts = []
    rest = user
    for slot in ("question", "answer", "prediction"):
        head, _, rest = rest.partition("{" + slot + "}")
        parts += [head, values[slot]]
    parts.append(rest)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "".join(parts)}]


class Invalid(ValueError):
    pass


def parse_verdict(raw: str) -> dict[str, Any]:
    try:
        obj = ast.literal_eval(raw)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise Invalid(f"not a Python literal ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or "pred" not in obj or "score" not in obj:
        raise Invalid("not a dict with 'pred' and 'score'")
    pred, score = obj["pred"], obj["score"]
    if pred not in ("yes", "no"):
        raise Invalid(f"pred {str(pred)[:20]!r} is not 'yes' or 'no'")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not (0 <= score <= 5):
        raise Invalid(f"score {str(score)[:20]!r} is not a number in [0, 5]")
    return {"pred": pred, "score": float(score)}


class OpenQA(Metric):
    name = "open_qa"
    headline = "accuracy"
    needs_judge = True
    gold = "answer"

    async def score(self, sample: Sample, prediction: Prediction, ctx: ScoreContext) -> SampleScore:
        if sample.question is None or sample.answer is None:
            raise BadInput(f"{sample.benchmark} sample {sample.id} has no question or answer (text.question, "
                           "text.response) for open-ended QA")
        ans = await ctx.judge.ask(qa_messages(sample.question, sample.answer, prediction.text or ""),
                                  parse_verdict, MAX_ATTEMPTS)
        if not ans.ok:
            return SampleScore(sample_id=sample.id, status="failed", reason=f"judge: {ans.reason}",
                               judge_calls=ans.keys)
        return SampleScore(sample_id=sample.id, judge_calls=ans.keys,
                           fields={"pred": ans.value["pred"], "score": ans.value["score"],
                                   "correct": ans.value["pred"] == "yes"})

    @staticmethod
    def _values(rows: list[Row]) -> dict[str, float | None]:
        n = len(rows)
        if not n:
            return {"accuracy": None, "score": None}
        yes = sum(sc.fields["pred"] == "yes" for _, sc in rows)
        return {"accuracy": 100.0 * yes / n, "score": math.fsum(sc.fields["score"] for _, sc in rows) / n}

    def headline_values(self, rows: list[Row], protocol: str) -> dict[str, float | None]:
        return self._values([r for r in rows if r[1].ok])

    def per_sample_values(self, rows: list[Row], protocol: str) -> dict[str, Any] | None:
        import numpy as np

        return {"accuracy": np.array([100.0 * (sc.fields["pred"] == "yes") for _, sc in rows], dtype=np.float64),
                "score": np.array([sc.fields["score"] for _, sc in rows], dtype=np.float64)}

    def aggregate(self, rows: list[Row], protocol: str) -> Aggregate:
        ok = [r for r in rows if r[1].ok]
        groups: dict[str, dict[str, float | int | None]] = {}
        by_group: dict[str, list[Row]] = defaultdict(list)
        failed: dict[str, int] = defaultdict(int)
        for s, sc in rows:
            for key, value in s.groups.items():
                if sc.ok:
                    by_group[f"{key}={value}"].append((s, sc))
                else:
                    failed[f"{key}={value}"] += 1
        for name in sorted(set(by_group) | set(failed)):
            g = by_group.get(name, [])
            groups[name] = {**self._values(g), "n": len(g), "n_failed": failed.get(name, 0)}
        return Aggregate(metrics=self._values(ok), groups=groups, n_scored=len(ok),
                         extra={"n_yes": sum(sc.fields["pred"] == "yes" for _, sc in ok)})
