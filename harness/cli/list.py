"""`harness list benchmarks|models`."""

from __future__ import annotations

from harness import registry
from harness.types import MAX_FRAMES


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list benchmarks or models")
    p.add_argument("what", choices=["benchmarks", "models"])
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.what == "benchmarks":
        from harness.benchmarks import BENCHMARKS

        rows = [("benchmark", "metric", "groups", "annotation file", "title")]
        for name in BENCHMARKS:
            b = registry.benchmark(name)
            rows.append((name, b.metric, ",".join(b.group_keys) or "-", b.annotation_file, b.title))
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
