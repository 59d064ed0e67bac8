"""Lazy registries: names map to "module:attribute" strings, imported only when used.

Adding a model, benchmark or metric is one file plus one line in the package's registry.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

from harness.errors import BadInput


def load_object(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def lookup(registry: dict[str, str], name: str, kind: str) -> Any:
    if name not in registry:
        known = ", ".join(sorted(registry))
        raise BadInput(f"unknown {kind} '{name}'; known: {known}")
    return load_object(registry[name])


DECLARATION_SUFFIXES = (".yaml", ".yml")


def benchmark(name: str):
    """A built-in benchmark by name, or a user's declaration file (path ending in .yaml or .yml)."""
    if name.lower().endswith(DECLARATION_SUFFIXES):
        return benchmark_file(name)
    from harness.benchmarks import BENCHMARKS

    if name not in BENCHMARKS:
        raise BadInput(f"unknown benchmark '{name}'; known: {', '.join(sorted(BENCHMARKS))}, "
                       "or a declaration file (mybench.yaml; see `harness list benchmarks --bench FILE`)")
    return _builtin(name)


def builtin_names() -> list[str]:
    """The built-in benchmarks, in the order the board shows them."""
    from harness.benchmarks import BENCHMARKS

    return list(BENCHMARKS)


def is_builtin(name: str) -> bool:
    from harness.benchmarks import BENCHMARKS

    return name in BENCHMARKS


@functools.lru_cache(maxsize=None)
def _builtin(name: str):
    import importlib.resources

    from harness.benchmark import from_text
    from harness.benchmarks import BENCHMARKS

    res = importlib.resources.files("harness.benchmarks") / BENCHMARKS[name]
    bench = from_text(res.read_text(encoding="utf-8"), f"harness/benchmarks/{BENCHMARKS[name]}")
    if bench.name != name:
        raise BadInput(f"harness/benchmarks/{BENCHMARKS[name]}: name: {bench.name!r} differs from its registry key {name!r}")
    return bench


def benchmark_file(path: str):
    """A user's declaration; its name must not be a built-in one (results would mix)."""
    from harness.benchmark import from_yaml

    bench = from_yaml(path)
    if is_builtin(bench.name):
        raise BadInput(f"{path}: name: {bench.name!r} is a built-in benchmark; give yours another name")
    return bench


def bench_arg(value: str, metric: str | None = None):
    """What `--bench` names: a built-in name, a declaration file, or (with --metric) an annotation file."""
    from harness.benchmark import zero_config

    if metric is not None:
        if value.lower().endswith(DECLARATION_SUFFIXES) or is_builtin(value):
            raise BadInput("--metric goes with --bench FILE.jsonl (an annotation file); a benchmark "
                           "declaration or a built-in benchmark names its own metric")
        bench = zero_config(value, metric)
        if is_builtin(bench.name):
            raise BadInput(f"{value}: the benchmark would be named {bench.name!r}, a built-in benchmark; "
                           "rename the file or write a declaration (mybench.yaml) with another name")
        return bench
    if not value.lower().endswith(DECLARATION_SUFFIXES) and not is_builtin(value) and Path(value).is_file():
        raise BadInput(f"--bench {value}: an annotation file needs --metric NAME (e.g. multiple_choice), "
                       "or a declaration file (mybench.yaml) that names its metric")
    return benchmark(value)


def benchmark_of_run(store):
    """The benchmark of a run folder: a built-in one, or the declaration the run saved."""
    from harness.benchmark import from_mapping

    name = store.spec.benchmark
    if is_builtin(name):
        return _builtin(name)
    declared = store.benchmark_declaration()
    if declared is None:
        raise BadInput(f"{store.dir}: benchmark {name!r} is not built in and the run folder holds no "
                       "declaration of it (benchmark.json)")
    return from_mapping(declared, str(store.dir / "benchmark.json"))


def metric(name: str):
    """A metric without protocol rules; a benchmark's own is `Benchmark.make_metric()`."""
    from harness.metrics import METRICS

    return lookup(METRICS, name, "metric")()


def adapter(model: str, options):
    """An adapter for a model id ("tarsier-7b") or a prefixed one ("file:PATH")."""
    from harness.adapters import MODELS, PREFIXES

    if model in MODELS:
        return load_object(MODELS[model])(model, options)
    prefix, sep, _ = model.partition(":")
    if sep and prefix in PREFIXES:
        return load_object(PREFIXES[prefix])(model, options)
    known = ", ".join(sorted(MODELS) + [f"{p}:..." for p in sorted(PREFIXES)])
    raise BadInput(f"unknown model '{model}'; known: {known}")
