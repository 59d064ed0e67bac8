"""`harness show RUN_DIR`: the spec, prediction counts and every result in a run."""

from __future__ import annotations

import json
from collections import Counter

from harness.cli.output import print_result
from harness.store import RunStore


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="show a run directory")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    store = RunStore.open(args.run_dir)
    results = store.results()
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for _, r in results], indent=2))
        return 0
    preds = store.predictions()
    n_ok = sum(p.ok for p in preds.values())
    spec = store.spec
    print(f"run {store.dir}")
    print(f"  model {store.model_name} ({spec.backend}), benchmark {spec.benchmark}, "
          f"{frames_used(spec, preds.values())}, spec {spec.hash()}")
    print(f"  predictions: {n_ok} ok, {len(preds) - n_ok} failed")
    for score_spec, result in results:
        judge = f", judge {score_spec.judge.model}" if score_spec.judge else ""
        print(f"  scored with {score_spec.metric}, protocol {score_spec.protocol}{judge}:")
        print_result(result, indent="    ")
    return 0


def frames_used(spec, predictions) -> str:
    """The frames the model really saw, from the predictions (none for replayed predictions)."""
    if spec.backend == "file":
        return "frames: none (predictions replayed from a file)"
    used = Counter(p.n_frames for p in predictions if p.ok and p.n_frames is not None)
    asked = spec.frames.n_frames
    if not used:
        return f"frames {asked} asked (the predictions do not record how many were used)"
    if set(used) == {asked}:
        return f"frames {asked}"
    counts = ", ".join(f"{n} in {c}" for n, c in sorted(used.items(), key=lambda kv: -kv[1]))
    return f"frames {asked} asked, used: {counts} predictions"
