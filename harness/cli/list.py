"""`harness list benchmarks|models`; `harness list benchmarks --bench FILE` previews a declaration."""

from __future__ import annotations

from collections import Counter

from harness import registry
from harness.cli.help import examples
from harness.types import MAX_FRAMES


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list benchmarks or models",
                       epilog=examples("harness list models", "harness list benchmarks",
                                       "harness list benchmarks --bench dream   # one benchmark: facts, data, samples"))
    p.add_argument("what", choices=["benchmarks", "models"], help="what to list")
    p.add_argument("--bench", help="preview a benchmark: a declaration file (mybench.yaml), a built-in name, or "
                                   "an annotation file with --metric")
    p.add_argument("--metric", help="with --bench FILE.jsonl: the metric to score it with")
    p.add_argument("--annotations", help="with --bench: the annotation file or folder to check (default: the "
                                         "declaration's)")
    p.add_argument("--allow-foreign-annotations", action="store_true",
                   help="with --bench: preview annotations that do not fit the benchmark")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.what == "benchmarks" and args.bench:
        return preview(args)
    if args.what == "benchmarks":
        rows = [("benchmark", "title", "split", "family", "metric", "groups", "rules", "annotation file")]
        for name in registry.builtin_names():
            b = registry.benchmark(name)
            rows.append((name, b.title, b.split, b.family, b.metric or "- (published only)",
                         ",".join(g.name for g in b.groups) or "-", _rules(b) or "-", b.annotations.file or "-"))
    else:
        from harness.adapters import MODELS, PREFIXES
        from harness.adapters.profiles import PROFILES

        rows = [("model", "family", "backend", "frames", "profile (reproduces [settings])", "needs")]
        for name, ref in list(MODELS.items()) + [(f"{p}:...", r) for p, r in PREFIXES.items()]:
            cls = registry.load_object(ref)
            backend = getattr(cls, "default_backend", None) or cls.backend
            others = [b for b in getattr(cls, "backends", ()) if b != backend]
            if others:
                backend += " (" + ", ".join(f"--backend {b}" for b in others) + ")"
            frames = _frames(cls, PROFILES.get(name))
            profile = PROFILES[name].summary() if name in PROFILES else "-"
            rows.append((name, cls.family or "-", backend, frames, profile, cls.needs))
    print_table(rows)
    return 0


def _rules(bench) -> str:
    return "; ".join(f"{p}: {', '.join(f'{k}={v}' for k, v in r.model_dump().items() if v not in (None, False))}"
                     for p, r in bench.rules.items() if r.names())


def preview(args) -> int:
    """What the harness makes of a benchmark: its facts, and its annotations as samples."""
    from harness.annotations import check_annotations

    bench = registry.bench_arg(args.bench, args.metric)
    facts = [("name", bench.name), ("title", bench.title), ("family", f"{bench.family} ({bench.family_title})"),
             ("split", bench.split), ("description", bench.description or "-"),
             ("metric", bench.metric or "- (published numbers only)"),
             ("judge", "needed" if bench.needs_judge else "none"),
             ("format", ", ".join(bench.format)),
             ("groups", ", ".join(f"{g.name} ({g.field}{' after ' + repr(g.after) if g.after else ''})"
                                  for g in bench.groups) or "-"),
             ("rules", _rules(bench) or "none"),
             ("frames", str(bench.frames or "the model's")), ("sample id", bench.id),
             ("data", f"`harness data fetch {bench.name}`" + (f" (Hugging Face hub: {bench.data.hub.repo})"
                                                               if bench.data.hub else " says where to get it"))]
    if bench.metric is None:
        print_table([("field", "value")] + facts)
        return 0
    from harness.cli.data import data_defaults
    from harness.errors import BadInput

    try:
        ann = bench.load_annotations(data_defaults(bench, args.annotations, "-")[0])
    except BadInput as exc:
        if args.annotations:
            raise
        # no annotations here yet: the declaration is still worth seeing; say what its samples need
        print_table([("field", "value")] + facts + [("annotations", str(exc))])
        return 0
    status = check_annotations(bench, ann, args.allow_foreign_annotations)
    samples = bench.samples(ann)
    facts += [("annotations", f"{ann.source} ({status})"), ("samples", str(len(samples)))]
    for g in bench.groups:
        counts = Counter(s.groups.get(g.name) for s in samples if g.name in s.groups)
        facts.append((f"  {g.name}", ", ".join(f"{k} ({n})" for k, n in sorted(counts.items())) or "-"))
    if samples:
        first = samples[0]
        facts += [("first sample", first.id), ("  prompt", _short(first.prompt.replace("\n", "\\n"))),
                  ("  answer", first.answer or "; ".join(first.references)[:160] or "-")]
    print_table([("field", "value")] + facts)
    return 0


def _short(text: str, head: int = 100, tail: int = 60) -> str:
    """Start and end of a long text (a prompt's end holds the answer prefix)."""
    return text if len(text) <= head + tail + 5 else f"{text[:head]} ... {text[-tail:]}"


def _frames(cls, profile=None) -> str:
    """Default frames as the model sees them: count, repeats, resize rule, pixel cap, sampler."""
    n = getattr(cls, "default_frames", None)
    if profile is not None and profile.applied and "frames" in profile.settings:
        n = profile.settings["frames"]
    if n is None:
        return "-"
    if getattr(cls, "family", "") == "gemini":
        return f"video 1 fps ({n} with --gemini-input frames)"
    text = str(n)
    if getattr(cls, "repeat", 1) > 1:
        text += f" x{cls.repeat}"
    if getattr(cls, "resize", "none") not in ("none", None):
        text += f" {cls.resize}"
    if getattr(cls, "max_pixels", None):
        text += f" <={cls.max_pixels}px"
    if getattr(cls, "sampler", "uniform") != "uniform":
        text += f" ({cls.sampler} rule)"
    if getattr(cls, "max_frames", MAX_FRAMES) < MAX_FRAMES:  # a bound of the model's own (its context)
        text += f" (--frames up to {cls.max_frames})"
    return text


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
