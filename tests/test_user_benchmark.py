"""Bring your own benchmark, tried as a new user would: a multiple-choice benchmark in Tarsier2's
`messages` format, made here from real NExT-QA questions re-packed into three tasks
(`dataset` = "MyBench/<task>"), declared in a YAML file, run with no code under both protocols,
per-task accuracy checked by hand, published under its own name, shown on the site; the same
file given to a built-in benchmark is refused in one line; the project's files are untouched."""

from __future__ import annotations

import json
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, REPO, assert_one_line, harness_cli, read_jsonl, write_jsonl

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
TASKS = {"causal": 90, "temporal": 70, "counting": 40}  # 200 questions, idx restarting per task

DECLARATION = """\
name: mybench
title: MyBench (re-packed NExT-QA)
family: multiple-choice QA
split: test
description: Three tasks of real NExT-QA questions in the Tarsier2 messages format.
source:
  citation: Made inside the test from NExT-QA's validation questions
dataset: MyBench
annotations:
  path: mybench.messages.jsonl
format: messages
metric: multiple_choice
groups:
  - name: task
    field: dataset
    after: "/"
    title: Per task
rules:
  tarsier:
    mean_over: task
video: "{vid}"
id: dataset+idx
"""


def _messages_row(task: str, idx: int, row: dict) -> dict:
    question = row["text"]["question"].rstrip("\n")
    return {"messages": [
        {"role": "user", "content": [{"type": "video", "video": {"video_file": "<placeholder>"}},
                                     {"type": "text", "text": f"Question: {question}"}]},
        {"role": "assistant", "content": [{"type": "text", "text": " Answer: ("},
                                          {"type": "text", "text": "", "reference": row["text"]["response"]}]}],
        "dataset": f"MyBench/{task}", "task": "video/QA", "idx": idx, "vid": f"{task}/{row['vid']}.mp4"}


def _prediction(k: int, answer: str) -> str:
    """Deterministic: every 7th unparseable, every 3rd a wrong letter, the rest right."""
    if k % 7 == 0:
        return "unsure"
    if k % 3 == 0:
        return "ABCDE"[("ABCDE".index(answer) + 1) % 5]
    return answer + ") because"


@pytest.fixture(scope="module")
def mybench(tmp_path_factory):
    home = tmp_path_factory.mktemp("newuser")
    source = read_jsonl(NEXTQA)
    rows, preds, outcome = [], [], defaultdict(list)  # task -> [(valid, correct)]
    k = 0
    for task, n in TASKS.items():
        for idx in range(n):
            row = _messages_row(task, idx, source[k])
            rows.append(row)
            text = _prediction(k, row["messages"][1]["content"][1]["reference"])
            pred = json.loads(json.dumps(row))
            pred["messages"][1]["content"][1]["text"] = text  # where Tarsier2 writes its answer
            preds.append(pred)
            answer = row["messages"][1]["content"][1]["reference"]
            outcome[task].append((text != "unsure", text[0] == answer))
            k += 1
    write_jsonl(home / "mybench.messages.jsonl", rows)
    write_jsonl(home / "predictions.messages.jsonl", preds)
    (home / "mybench.yaml").write_text(DECLARATION)
    return home, outcome


def _run(home: Path, *args: str):
    return harness_cli("run", "--model", "file:predictions.messages.jsonl", "--bench", "mybench.yaml",
                       "--out", "runs", "--no-progress", "--json", *args, cwd=home)


def _tree(root: Path) -> dict[str, float]:
    skip = {".git", "__pycache__", ".pytest_cache"}
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(root).parts) and not p.name.endswith(".pyc")}


@pytest.fixture(scope="module")
def runs(mybench):
    home, _ = mybench
    before = _tree(REPO)
    out = {}
    for protocol in ("strict", "tarsier"):
        proc = _run(home, "--protocol", protocol, "--publish", "results")
        assert proc.returncode == 0, proc.stderr
        out[protocol] = json.loads(proc.stdout)
    assert _tree(REPO) == before  # no file of the project written, changed or added
    return out


@pytest.mark.slow
def test_runs_from_its_yaml_alone_under_both_protocols(mybench, runs):
    _, outcome = mybench
    for protocol, res in runs.items():
        assert res["benchmark"] == "mybench" and res["n_total"] == sum(TASKS.values())
        assert res["coverage"]["canonical"] is None  # a user benchmark declares no canonical checksum: unverified
        per_task = {}
        for task, marks in outcome.items():
            counted = marks if protocol == "strict" else [m for m in marks if m[0]]
            per_task[task] = 100.0 * sum(c for _, c in counted) / len(counted)
            assert res["groups"][f"task={task}"]["accuracy"] == pytest.approx(per_task[task]), (protocol, task)
            assert res["groups"][f"task={task}"]["n"] == TASKS[task]
        everything = [m for marks in outcome.values() for m in marks]
        if protocol == "strict":  # pooled; no rule declared for strict
            assert res["metrics"]["accuracy"] == pytest.approx(100.0 * sum(c for _, c in everything) / len(everything))
            assert res["n_invalid"] == sum(not v for v, _ in everything) > 0
        else:  # the declared rule: the unweighted mean over tasks
            assert res["metrics"]["accuracy"] == pytest.approx(sum(per_task.values()) / len(per_task))
            pooled = [m for m in everything if m[0]]
            assert res["metrics"]["accuracy"] != pytest.approx(100.0 * sum(c for _, c in pooled) / len(pooled))
        lo, hi = res["intervals"]["accuracy"]
        assert lo < res["metrics"]["accuracy"] < hi


def test_the_assistant_text_before_the_reference_is_part_of_the_prompt(mybench):
    from harness import registry

    home, _ = mybench
    bench = registry.benchmark(str(home / "mybench.yaml"))
    samples = bench.samples(bench.load_annotations())
    first = samples[0]
    assert first.id == "MyBench/causal:0" and first.groups == {"task": "causal"}
    assert first.prompt.startswith("USER: <video>\nQuestion: ") and first.prompt.endswith("\nASSISTANT: Answer: (")
    assert len(first.options) == 5 and first.answer in "ABCDE"
    from harness.adapters._base import split_chat_prompt  # how every chat adapter reads it

    user, prefix = split_chat_prompt(first.prompt)
    assert user.startswith("<video>\nQuestion: ") and prefix == "Answer: ("


def test_preview_lists_the_declaration_and_its_samples(mybench):
    home, _ = mybench
    proc = harness_cli("list", "benchmarks", "--bench", "mybench.yaml", cwd=home)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "MyBench (re-packed NExT-QA)" in out and "multiple_choice" in out
    assert "causal (90), counting (40), temporal (70)" in out and "tarsier: mean_over=task" in out
    assert "unverified" in out and "ASSISTANT: Answer: (" in out


@pytest.mark.slow
def test_published_under_its_own_name_and_shown_on_the_site(mybench, runs):
    home, _ = mybench
    records = sorted((home / "results" / "mybench").glob("*.json"))
    assert len(records) == 2
    rec = json.loads(records[0].read_text())
    assert rec["benchmark"] == "mybench" and rec["benchmark_title"] == "MyBench (re-packed NExT-QA)"
    assert rec["benchmark_family"] == "mc" and rec["split"] == "test"
    assert harness_cli("results", "check", "--results", "results", cwd=home).returncode == 0
    proc = harness_cli("leaderboard", "build", "--results", "results", "--runs", "runs", "--out", "site",
                       "--no-plots", cwd=home)
    assert proc.returncode == 0, proc.stderr
    page = (home / "site" / "benchmarks" / "mybench.html").read_text()
    assert "<h1>MyBench (re-packed NExT-QA)</h1>" in page
    assert "Three tasks of real NExT-QA questions" in page and "Per task" in page
    for task in TASKS:
        assert f">{task}<" in page
    index = (home / "site" / "index.html").read_text()
    section = index.split("Multiple-choice video QA", 1)[1]
    assert "MyBench (re-packed NExT-QA)" in section
    assert (home / "site" / "explore" / "mybench" / "index.html").is_file()
    meta = (home / "site" / "explore" / "mybench" / "data" / "meta.js").read_text()
    assert all(f'"{task}"' in meta for task in TASKS)  # the explorer filters by the declared task


@pytest.mark.slow
def test_rescore_and_compare_read_the_declaration_from_the_run(mybench, runs):
    home, _ = mybench
    run_dir = next((home / "runs").glob("*/mybench/*/"))
    assert json.loads((run_dir / "benchmark.json").read_text())["name"] == "mybench"
    proc = harness_cli("rescore", str(run_dir), "--protocol", "tarsier", "--json", "--no-progress", cwd=home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["metrics"]["accuracy"] == pytest.approx(runs["tarsier"]["metrics"]["accuracy"])
    same = harness_cli("compare", str(run_dir), str(run_dir), "--protocol", "tarsier", "--json", cwd=home)
    assert same.returncode == 0, same.stderr
    metric = json.loads(same.stdout)["comparisons"][0]["metrics"]["accuracy"]
    assert metric["a"] == pytest.approx(runs["tarsier"]["metrics"]["accuracy"]) and metric["diff"] == 0


def test_the_same_file_given_to_a_builtin_benchmark_is_refused(mybench):
    home, _ = mybench
    for bench in ("mvbench", "egoschema"):
        proc = harness_cli("run", "--model", "file:predictions.messages.jsonl", "--bench", bench, "--annotations",
                           "mybench.messages.jsonl", "--out", "other-runs", "--no-progress", cwd=home)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert f"is not a {bench} annotation file" in lines[0] and "'MyBench/causal'" in lines[0]
        assert "--allow-foreign-annotations" in lines[0]
        assert not (home / "other-runs").exists()


@pytest.mark.slow
def test_zero_config_tarsier_file_with_a_metric(tmp_path):
    rows = read_jsonl(NEXTQA)[:30]
    write_jsonl(tmp_path / "nextqa_part.jsonl", rows)
    write_jsonl(tmp_path / "p.jsonl", [{**r, "text": {**r["text"], "prediction": "A" if i % 2 else r["text"]["response"]}}
                                       for i, r in enumerate(rows)])
    proc = harness_cli("run", "--model", "file:p.jsonl", "--bench", "nextqa_part.jsonl", "--metric",
                       "multiple_choice", "--out", "runs", "--json", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    expected = 100.0 * sum(1 for i, r in enumerate(rows) if i % 2 == 0 or r["text"]["response"] == "A") / 30
    assert res["benchmark"] == "nextqa_part" and res["metrics"]["accuracy"] == pytest.approx(expected)
    assert set(res["groups"]) == {"dataset=Next-QA-val-multi_choice"}
    no_metric = harness_cli("run", "--model", "file:p.jsonl", "--bench", "nextqa_part.jsonl", cwd=tmp_path)
    assert no_metric.returncode == 2 and "needs --metric" in no_metric.stderr


BAD_DECLARATIONS = {
    "unknown field": ("titel: x\n", "titel: unknown field"),
    "unknown metric": ("metric: multiple_choise\n", "metric: unknown metric 'multiple_choise'"),
    "rule over no grouping key": ("rules: {tarsier: {mean_over: subtask}}\n",
                                  "rules.tarsier.mean_over: 'subtask' is not a grouping key"),
    "rule the metric does not apply": ("metric: cider\n", "rules.tarsier.mean_over: the cider metric does not apply"),
    "bad name": ("name: My Bench\n", "name: String should match pattern"),
    "unknown template slot": ("prompt: '<video> {questoin}'\n", "prompt: unknown placeholder {questoin}"),
    "builtin name": ("name: mvbench\n", "name: 'mvbench' is a built-in benchmark"),
    "not YAML": ("groups: [\n", "not valid YAML"),
    "missing title": (None, "title: missing (required)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_DECLARATIONS))
def test_a_wrong_field_is_one_line_naming_the_field_and_the_file(mybench, tmp_path, case):
    home, _ = mybench
    change, expected = BAD_DECLARATIONS[case]
    text = DECLARATION.replace("title: MyBench (re-packed NExT-QA)\n", "") if change is None else DECLARATION + change
    (tmp_path / "bad.yaml").write_text(text.replace("path: mybench.messages.jsonl",
                                                    f"path: {home / 'mybench.messages.jsonl'}"))
    for cmd in (["run", "--model", f"file:{home / 'predictions.messages.jsonl'}"], ["list", "benchmarks"]):
        proc = harness_cli(*cmd, "--bench", "bad.yaml", "--out", "runs", cwd=tmp_path) if cmd[0] == "run" else \
            harness_cli(*cmd, "--bench", "bad.yaml", cwd=tmp_path)
        line = assert_one_line(proc, expected)
        assert line.startswith("harness: bad.yaml: "), line


def _question_and_options(row: dict) -> tuple[str, list[str]]:
    """A NExT-QA line's question and its options (the lines "(A) ..." after it, without the letter)."""
    lines = row["text"]["question"].rstrip("\n").split("\n")
    return lines[0], [ln[4:] for ln in lines[1:]]


def test_declaration_of_a_csv_table_with_index_answers(tmp_path):
    """A plain table: question, options as columns a0..a4, the answer as a 0-based index."""
    import csv

    rows = read_jsonl(NEXTQA)[:12]
    with (tmp_path / "qa.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["qid", "video", "question", "a0", "a1", "a2", "a3", "a4", "answer", "type"])
        for i, r in enumerate(rows):
            question, options = _question_and_options(r)
            w.writerow([f"q{i}", f"{r['vid']}.mp4", question, *options, "ABCDE".index(r["text"]["response"]),
                        "CW" if i < 6 else "TN"])
    (tmp_path / "qa.yaml").write_text(textwrap.dedent("""\
        name: qa-table
        title: QA table
        family: mc
        annotations: {path: qa.csv}
        format: table
        columns: {options: [a0, a1, a2, a3, a4], answer_form: index0, id: qid}
        metric: multiple_choice
        groups: [{name: type, field: type}]
        """))
    from harness import registry

    bench = registry.benchmark(str(tmp_path / "qa.yaml"))
    samples = bench.samples(bench.load_annotations())
    assert [s.answer for s in samples] == [r["text"]["response"] for r in rows]
    assert samples[0].prompt == ("USER: <video>\nQuestion: " + rows[0]["text"]["question"].split("\n")[0] + "\n"
                                 + "\n".join(rows[0]["text"]["question"].rstrip("\n").split("\n")[1:])
                                 + "\nASSISTANT: Answer: (")
    assert samples[0].id == "q0" and samples[6].groups == {"type": "TN"}


@pytest.mark.slow
def test_videos_in_sub_folders_of_a_linked_root_reach_the_model(tmp_path):
    """A model that reads the videos: `vid` paths with sub-folders under a --video-root made of
    symbolic links, the declaration's frame count, and the assistant prefix in the request."""
    from fake_api_servers import OpenAIServer
    from tiny_models import make_video

    store = tmp_path / "store"
    store.mkdir()
    make_video(store / "blob1.mp4", n_frames=12, size=(64, 48), seed=1)
    make_video(store / "blob2.mp4", n_frames=9, size=(64, 48), seed=2)
    root = tmp_path / "videos"
    for task, blob in (("causal", "blob1"), ("temporal", "blob2")):
        (root / task).mkdir(parents=True)
        (root / task / "clip.mp4").symlink_to(store / f"{blob}.mp4")
    source = read_jsonl(NEXTQA)[:2]
    rows = [_messages_row(task, 0, r) for task, r in zip(("causal", "temporal"), source)]
    for row in rows:
        row["vid"] = f"{row['dataset'].split('/')[1]}/clip.mp4"
    write_jsonl(tmp_path / "mybench.messages.jsonl", rows)
    (tmp_path / "mybench.yaml").write_text(DECLARATION + "frames: 3\n")
    with OpenAIServer(reply="A") as srv:
        proc = harness_cli("run", "--model", "openai-compatible:tiny", "--base-url", srv.url, "--bench", "mybench.yaml",
                           "--video-root", "videos", "--out", "runs", "--cache-dir", "cache", "--json", "--no-progress",
                           cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        bodies = srv.chat_bodies
    assert len(bodies) == 2
    for body in bodies:
        content = body["messages"][0]["content"]
        assert sum(p["type"] == "image_url" for p in content) == 3  # the declaration's frames
        assert content[-1]["text"].endswith("\nAnswer: (")  # the assistant prefix from the messages row
    res = json.loads(proc.stdout)
    assert res["n_scored"] == 2 and res["frames"] == 3


def test_the_readme_example_is_a_valid_declaration():
    import re

    from harness.annotations import from_messages
    from harness.benchmark import from_text

    readme = (REPO / "README.md").read_text()
    section = readme.split("### Add your own benchmark", 1)[1]
    yaml_text = re.search(r"```yaml\n(# mybench\.yaml\n.*?)```", section, re.S).group(1)
    bench = from_text(yaml_text, "README.md")
    assert bench.name == "mybench" and bench.family == "mc" and bench.rules["tarsier"].mean_over == "task"
    line = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    row = from_messages(line)
    assert row["text"]["prompt"].endswith("\nASSISTANT: Answer: (") and row["text"]["response"] == "B"
    assert bench.build_sample({**row, "format": "messages"}, None, "choice").groups == {"task": "counting"}


def test_a_folder_of_files_and_a_changed_declaration(tmp_path):
    """annotations.path may be a folder (one file per task); a changed prompt is a new run, not a resume."""
    from harness import registry
    from harness.runner import build_spec

    source = read_jsonl(NEXTQA)
    (tmp_path / "ann").mkdir()
    write_jsonl(tmp_path / "ann" / "a.jsonl", [_messages_row("causal", i, source[i]) for i in range(5)])
    write_jsonl(tmp_path / "ann" / "b.jsonl", [_messages_row("temporal", i, source[5 + i]) for i in range(4)])
    (tmp_path / "one.yaml").write_text(DECLARATION.replace("path: mybench.messages.jsonl", "path: ann"))
    (tmp_path / "two.yaml").write_text(DECLARATION.replace("path: mybench.messages.jsonl", "path: ann")
                                       + "prompt: \"{prompt} Think first.\"\n")
    one, two = (registry.benchmark(str(tmp_path / f)) for f in ("one.yaml", "two.yaml"))
    ann = one.load_annotations()
    samples = one.samples(ann)
    assert [s.groups["task"] for s in samples] == ["causal"] * 5 + ["temporal"] * 4
    assert two.samples(ann)[0].prompt == samples[0].prompt + " Think first."

    class Adapter:
        model = name = "m"
        options = None
        backend = "none"
        frames = None

        def spec_fields(self):
            return {}

    from harness.types import FrameSpec

    Adapter.frames = FrameSpec()
    h1, h2 = (build_spec(Adapter(), b, ann.source, ann.sha256, None).hash() for b in (one, two))
    assert h1 != h2
    assert build_spec(Adapter(), registry.benchmark("next-qa"), "x", "0" * 64, None).benchmark_fingerprint is None


@pytest.mark.slow
def test_user_text_is_escaped_on_the_site(tmp_path):
    rows = [_messages_row("causal", i, r) for i, r in enumerate(read_jsonl(NEXTQA)[:6])]
    write_jsonl(tmp_path / "mybench.messages.jsonl", rows)
    preds = json.loads(json.dumps(rows))
    for p in preds:
        p["messages"][1]["content"][1]["text"] = "A"
    write_jsonl(tmp_path / "predictions.messages.jsonl", preds)
    (tmp_path / "mybench.yaml").write_text(
        DECLARATION.replace("title: MyBench (re-packed NExT-QA)", "title: \"<img src=x onerror=alert(1)>\"")
        .replace("description: Three", "description: <script>alert(2)</script> Three"))
    assert _run(tmp_path, "--publish", "results").returncode == 0
    proc = harness_cli("leaderboard", "build", "--results", "results", "--out", "site", "--no-plots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text()
        assert "<img src=x" not in text and "<script>alert(2)" not in text, page
    assert "&lt;img src=x onerror=alert(1)&gt;" in (tmp_path / "site" / "benchmarks" / "mybench.html").read_text()


def test_declaration_of_a_parquet_table_with_a_list_column_and_text_answers(tmp_path):
    import pandas as pd

    from harness import registry

    rows = read_jsonl(NEXTQA)[:8]
    table = []
    for i, r in enumerate(rows):
        question, options = _question_and_options(r)
        table.append({"q": question, "opts": options, "gold": options["ABCDE".index(r["text"]["response"])],
                      "clip": f"{r['vid']}.mp4", "split_name": "MyTable/part" + str(i % 2)})
    pd.DataFrame(table).to_parquet(tmp_path / "qa.parquet")
    (tmp_path / "qa.yaml").write_text(textwrap.dedent("""\
        name: qa-parquet
        title: QA parquet
        family: mc
        annotations: {path: qa.parquet}
        format: table
        columns: {question: q, options: opts, answer: gold, answer_form: text, video: clip, dataset: split_name}
        dataset: MyTable
        metric: multiple_choice
        groups: [{name: part, field: dataset, after: "/"}]
        id: dataset+idx
        """))
    bench = registry.benchmark(str(tmp_path / "qa.yaml"))
    samples = bench.samples(bench.load_annotations())
    assert [s.answer for s in samples] == [r["text"]["response"] for r in rows]
    assert samples[1].id == "MyTable/part1:1" and samples[1].groups == {"part": "part1"}
    assert samples[0].options == table[0]["opts"]


def test_a_hugging_face_dataset_and_split(tmp_path, monkeypatch):
    """`annotations: {hub: ID, split: S}` (a local dataset folder stands in for the hub id here)."""
    import pandas as pd

    from harness import registry

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    (tmp_path / "ds" / "data").mkdir(parents=True)
    rows = [{"question": f"q{i}?", "options": ["red", "blue", "green"], "answer": "ABC"[i % 3], "video": f"v{i}.mp4"}
            for i in range(6)]
    pd.DataFrame(rows).to_parquet(tmp_path / "ds" / "data" / "test-00000-of-00001.parquet")
    pd.DataFrame(rows[:2]).to_parquet(tmp_path / "ds" / "data" / "validation-00000-of-00001.parquet")
    decl = {"name": "hub-qa", "title": "Hub QA", "family": "mc", "format": "table", "metric": "multiple_choice"}
    for split, n in (("test", 6), ("validation", 2)):
        (tmp_path / "hub.yaml").write_text(json.dumps({**decl, "annotations": {"hub": str(tmp_path / "ds"),
                                                                                 "split": split}}))
        bench = registry.benchmark(str(tmp_path / "hub.yaml"))
        ann = bench.load_annotations()
        samples = bench.samples(ann)
        assert ann.source == f"hf:{tmp_path / 'ds'}" and len(samples) == n
        assert [s.answer for s in samples] == [r["answer"] for r in rows[:n]]
        assert samples[0].prompt == "USER: <video>\nQuestion: q0?\n(A) red\n(B) blue\n(C) green\nASSISTANT: Answer: ("
