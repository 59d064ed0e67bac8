"""Hostile files: one line on stderr naming the file (and line, or field) to fix, exit 2, no
traceback, nothing written. Binary and non-UTF-8 files, lines that are not JSON objects, JSON
nested past any data, NaN, repeated keys, an --out that cannot be written, damaged run files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import (ANNOTATIONS, DEMO_VIDEO, REPO, assert_one_line, harness_cli, read_jsonl, read_only_mount,
                      tarsier_predictions, write_jsonl)

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
DREAM_MESSAGES = ANNOTATIONS / "DREAM-1k.messages.jsonl"


@pytest.fixture
def preds(tmp_path):
    return tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", lambda i, r: "A")


def _run_nextqa(run, tmp_path, ann, preds, *extra):
    return run("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--no-progress", *extra)


def _lines(n=4):
    return NEXTQA.read_text(encoding="utf-8").splitlines()[:n]


def _latin1(lines: list[str]) -> bytes:
    """The lines as UTF-8, but the third with a Latin-1 byte inside a string."""
    return "\n".join(lines[:2]).encode() + b"\n" + lines[2].encode().replace(b'": "', b'": "\xe9', 1) + b"\n"


BAD_LINES = {
    "binary": (DEMO_VIDEO.read_bytes()[:4096], ":1", "not UTF-8"),
    "latin-1": (_latin1(_lines(3)), ":3", "not UTF-8"),
    "array": ("\n".join(_lines(2)) + "\n[1, 2, 3]\n", ":3", "expected a JSON object per line, got list"),
    "string": ("\n".join(_lines(2)) + '\n"just text"\n', ":3", "got str"),
    "nested": ("\n".join(_lines(2)) + "\n" + '{"idx": 9, "x": ' + "[" * 100000 + "]" * 100000 + "}\n", ":3",
               "nested too deeply"),
    "nested-moderately": ("\n".join(_lines(2)) + "\n" + '{"idx": 9, "x": ' + "[" * 500 + "]" * 500 + "}\n", ":3",
                          "nested too deeply"),
    "nan": ("\n".join(_lines(2)) + '\n{"idx": NaN, "dataset": "x", "text": {"prompt": "p"}}\n', ":3", "NaN"),
    "repeated key": ("\n".join(_lines(2)) + '\n{"idx": 1, "idx": 2, "dataset": "x"}\n', ":3", "'idx' appears twice"),
    "huge int": ("\n".join(_lines(2)) + '\n{"idx": ' + "9" * 5000 + "}\n", ":3", "not plain JSON"),
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_hostile_annotation_files(tmp_path, cli, preds, kind):
    content, where, what = BAD_LINES[kind]
    ann = tmp_path / "ann.jsonl"
    ann.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    line = assert_one_line(_run_nextqa(cli, tmp_path, ann, preds), what)
    assert "ann.jsonl" in line and where in line, line
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["binary", "latin-1", "array", "nested"])
def test_hostile_prediction_files(tmp_path, cli, kind):
    good = [json.dumps({"sample_id": str(i), "text": "A"}) for i in range(3)]
    content = {"binary": DEMO_VIDEO.read_bytes()[:4096], "latin-1": _latin1(good),
               "array": "\n".join(good[:2]) + "\n[1, 2]\n",
               "nested": "\n".join(good[:2]) + "\n" + "[" * 100000 + "]" * 100000 + "\n"}[kind]
    _, where, what = BAD_LINES[kind]
    bad = tmp_path / "preds.jsonl"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    line = assert_one_line(_run_nextqa(cli, tmp_path, NEXTQA, bad, "--limit", "3"), what)
    assert "preds.jsonl" in line and where in line, line


def test_a_messages_format_line_that_is_not_an_object(tmp_path):
    rows = DREAM_MESSAGES.read_text(encoding="utf-8").splitlines()[:3]
    ann = tmp_path / "dream.messages.jsonl"
    ann.write_text(rows[0] + "\n" + json.dumps([json.loads(rows[1])]) + "\n" + rows[2] + "\n")
    preds = write_jsonl(tmp_path / "p.jsonl", [{"sample_id": "1", "text": "x"}])
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(ann),
                       "--stage", "generate", "--out", str(tmp_path / "runs"))
    assert_one_line(proc, "dream.messages.jsonl:2", "got list")


@pytest.fixture
def run_dir(tmp_path, cli, preds):
    ann = write_jsonl(tmp_path / "ann.jsonl", read_jsonl(NEXTQA)[:5])
    proc = _run_nextqa(cli, tmp_path, ann, preds)
    assert proc.returncode == 0, proc.stderr
    (d,) = (tmp_path / "runs").glob("*/*/*")
    return d


SPEC_DAMAGE = {
    "truncated": lambda t: t[: len(t) // 2],
    "empty": lambda t: "",
    "binary": lambda t: "\x00\x89PNG\ufffd",
    "wrong type": lambda t: json.dumps({**json.loads(t), "frames": {"n_frames": "eight"}}),
    "a list": lambda t: json.dumps([json.loads(t)]),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(SPEC_DAMAGE))
@pytest.mark.parametrize("command", ["show", "compare", "rescore"])
def test_a_damaged_spec_json(run_dir, cli, command, damage):
    spec = run_dir / "spec.json"
    spec.write_text(SPEC_DAMAGE[damage](spec.read_text()))
    args = {"show": ("show", str(run_dir)), "compare": ("compare", str(run_dir), str(run_dir)),
            "rescore": ("rescore", str(run_dir), "--no-progress")}[command]
    line = assert_one_line(cli(*args), "spec.json")
    if damage == "wrong type":
        assert "frames.n_frames" in line, line


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "wrong type"])
@pytest.mark.parametrize("command", ["show", "compare"])
def test_a_damaged_result_json(run_dir, cli, command, damage):
    (res,) = run_dir.rglob("result.json")
    text = res.read_text()
    res.write_text(text[:40] if damage == "truncated" else json.dumps({**json.loads(text), "n_total": "five"}))
    args = ("show", str(run_dir)) if command == "show" else ("compare", str(run_dir), str(run_dir))
    if command == "compare":  # compare reads score_spec.json and scores.jsonl: damage those too
        (ss,) = run_dir.rglob("score_spec.json")
        ss.write_text("{")
    line = assert_one_line(cli(*args))
    assert ".json" in line, line


def test_a_damaged_score_log_record(run_dir, cli):
    (scores,) = run_dir.rglob("scores.jsonl")
    lines = scores.read_text().splitlines()
    lines[1] = json.dumps({"sample_id": 5, "status": "maybe"})  # valid JSON, not a score
    scores.write_text("\n".join(lines) + "\n")
    line = assert_one_line(cli("compare", run_dir, run_dir), "scores.jsonl", "record 2")
    assert "status" in line or "sample_id" in line, line


@pytest.mark.slow
def test_run_out_is_a_file_or_under_a_file(tmp_path, preds):
    f = tmp_path / "a-file"
    f.write_text("x")
    for out in (f, f / "runs"):
        line = assert_one_line(harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations",
                                     str(NEXTQA), "--limit", "2", "--out", str(out), "--no-progress"))
        assert str(f) in line, line
    assert f.read_text() == "x"


def test_frames_out_under_a_file(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    assert_one_line(harness_cli("frames", str(DEMO_VIDEO), "--n", "2", "--out", str(f / "frames")), str(f))


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "frames"])
def test_out_on_aread_only_mount(tmp_path, preds, command):
    ro = read_only_mount(tmp_path)
    if command == "run":
        args = (f"run --model file:{preds} --bench next-qa --annotations {NEXTQA} --limit 2 "
                f"--out {ro / 'runs'} --no-progress")
    else:
        args = f"frames {DEMO_VIDEO} --n 2 --out {ro / 'frames'}"
    script = f"mount -t tmpfs -o ro tmpfs {ro} && exec {sys.executable} -m harness.cli {args}"
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, cwd=REPO)
    assert_one_line(proc, "Read-only file system")


def test_pydantic_errors_are_one_line_with_field_and_problem():
    from pydantic import ValidationError

    from harness.errors import validation_summary
    from harness.types import RunSpec

    with pytest.raises(ValidationError) as err:
        RunSpec.model_validate({"model": 3, "benchmark": ["x"], "annotation_sha256": None, "annotations": "a"})
    text = validation_summary(err.value)
    assert "\n" not in text
    assert text.startswith("model: Input should be a valid string") and "(and 2 more problems)" in text, text
