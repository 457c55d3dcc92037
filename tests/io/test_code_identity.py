"""Every record names the code that made it (manifest key ``code``,
simulator/io/outputs.code_identity): the git commit and whether tracked files under
simulator/ had uncommitted changes when the package runs from a git checkout, and always
a short hash of the package's source files, so a record matches its code outside git too.
Before, the records carried only the version (0.1.0): two checkouts at different commits
wrote the same record."""

import json
import shutil
import subprocess

import pytest

from simulator.cli import main
from simulator.io import outputs

from ..conftest import SCENARIOS
from ..experiments.calibration_files import write_calibration
from ..experiments.sweep_files import write_sweep
from ..experiments.test_validate import TINY_TARGETS

TINY = ["--set", "population.users=200", "--set", "population.creators=20", "--set", "population.merchants=1"]
HAS_GIT = shutil.which("git") is not None


def _copy_package(dest):
    """A copy of simulator/'s source files (no caches, no compiled kernels) at ``dest``."""
    shutil.copytree(outputs.PACKAGE_DIR, dest, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    return dest


def _git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def _records(tmp_path, command):
    """Run ``command`` on a tiny setting; the records it wrote (dicts) that must carry ``code``."""
    out = tmp_path / "out"
    if command == "run":
        args = ["run", str(SCENARIOS / "douyin.toml"), "--steps", "2", *TINY, "--quiet"]
        files = ["manifest.json"]
    elif command == "compare":
        args = ["compare", str(SCENARIOS / "douyin.toml"), str(SCENARIOS / "kuaishou.toml"), "--replicates", "2",
                "--steps", "2", "--workers", "1", *TINY, "--quiet"]
        files = ["manifest.json"]
    elif command == "validate":
        (tmp_path / "t.toml").write_text(TINY_TARGETS)
        args = ["validate", "--targets", str(tmp_path / "t.toml"), "--users", "300", "--steps", "2",
                "--replicates", "2", "--workers", "1", "--quiet"]
        files = ["manifest.json"]
    elif command == "sweep":
        f = write_sweep(tmp_path / "s.toml", '"platforms.douyin.beta" = [1.0]', steps=2, users=200)
        args = ["sweep", str(f), "--workers", "1"]
        files = ["sweep.json"]
    else:
        f = write_calibration(tmp_path / "c.toml", budget=2, batch=2, startup=2, steps="2")
        args = ["calibrate", str(f), "--workers", "1"]
        files = ["manifest.json", "calibration.json"]
    assert main([*args, "--out", str(out)]) in (0, 1)  # (validate: 1 if a target fails; a record either way)
    records = []
    for name in files:
        data = json.loads((out / name).read_text())
        records.append(data.get("trafficsim_sweep") or data.get("trafficsim_calibration") or data)
    return records


@pytest.mark.parametrize("command", ["run", "compare", "validate", "sweep", "calibrate"])
def test_every_commands_record_names_its_code(tmp_path, capsys, command):
    """(Mutation checked: without ``code`` in outputs.environment every command fails, and
    calibration.json without its own.)"""
    want = outputs.code_identity()
    assert set(want) == {"source_sha256", "git_commit", "git_dirty", "git_note"}
    assert len(want["source_sha256"]) == 16 and int(want["source_sha256"], 16) >= 0
    for record in _records(tmp_path, command):
        assert record["code"] == want


def test_the_source_hash_follows_the_source_files_not_their_place(tmp_path):
    """The hash of a copy of the package is the package's (the same code anywhere: in a git
    checkout or installed); editing, adding or renaming a source file changes it, a cache
    file does not. (Mutation checked: hashing names only, or contents only.)"""
    pkg = _copy_package(tmp_path / "simulator")
    base = outputs.source_hash(pkg)
    assert base == outputs.source_hash() == outputs.code_identity()["source_sha256"]
    (pkg / "__pycache__").mkdir(exist_ok=True)
    (pkg / "__pycache__" / "x.py").write_text("cached = 1\n")
    (pkg / "notes.txt").write_text("not source\n")
    assert outputs.source_hash(pkg) == base
    model = pkg / "model.py"
    text = model.read_text()
    model.write_text(text.replace("def ", "def\t", 1))  # (the same length)
    edited = outputs.source_hash(pkg)
    model.write_text(text)
    assert edited != base and outputs.source_hash(pkg) == base
    (pkg / "world.py").rename(pkg / "world2.py")
    assert outputs.source_hash(pkg) != base
    (pkg / "world2.py").rename(pkg / "world.py")
    (pkg / "extra.py").write_text("")
    assert outputs.source_hash(pkg) != base


def test_outside_git_the_record_says_so_and_still_has_the_hash(tmp_path):
    pkg = _copy_package(tmp_path / "simulator")
    code = outputs.code_identity(pkg)
    assert code["git_commit"] is None and code["git_dirty"] is None
    assert code["git_note"].startswith("not a git checkout") and code["source_sha256"] == outputs.source_hash(pkg)


@pytest.mark.skipif(not HAS_GIT, reason="needs git")
def test_in_a_git_checkout_the_commit_and_uncommitted_changes_under_simulator(tmp_path):
    """The commit is HEAD's; ``git_dirty`` is whether tracked files under simulator/ differ
    from it (staged or not), not files elsewhere in the checkout nor untracked ones (those
    change the hash). (Mutation checked: dirty from every status line, or never.)"""
    root = tmp_path / "checkout"
    pkg = root / "simulator"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    (root / "README.md").write_text("readme\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    head = _git(root, "rev-parse", "HEAD")
    clean = outputs.code_identity(pkg)
    assert clean == {"source_sha256": outputs.source_hash(pkg), "git_commit": head, "git_dirty": False, "git_note": None}
    (root / "README.md").write_text("edited\n")
    (pkg / "scratch.py").write_text("y = 2\n")  # untracked
    other = outputs.code_identity(pkg)
    assert other["git_dirty"] is False and other["source_sha256"] != clean["source_sha256"]
    (pkg / "__init__.py").write_text("x = 2\n")
    assert outputs.code_identity(pkg)["git_dirty"] is True
    _git(root, "add", "simulator/__init__.py")  # staged, not committed: still uncommitted
    assert outputs.code_identity(pkg)["git_dirty"] is True
    _git(root, "commit", "-q", "-m", "second")
    now = outputs.code_identity(pkg)
    assert now["git_dirty"] is False and now["git_commit"] == _git(root, "rev-parse", "HEAD") != head
    # a package copy in a folder inside a checkout (an install in a virtualenv kept in the
    # checkout) is not that checkout's code
    inner = _copy_package(root / "venv" / "site-packages" / "simulator")
    assert outputs.code_identity(inner)["git_note"].startswith("not a git checkout")


def test_without_git_a_run_still_writes_its_record(tmp_path, monkeypatch, capsys):
    """No git on the machine: the record says so and keeps the hash; the run succeeds.
    (Mutation checked: letting the missing executable's error through fails the run.)"""
    monkeypatch.setattr(outputs, "GIT", "no-such-git-executable")
    monkeypatch.setattr(outputs, "_CODE", None)
    out = tmp_path / "r"
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "1", *TINY, "--quiet", "--out", str(out)]) == 0
    code = json.loads((out / "manifest.json").read_text())["code"]
    assert code == {"source_sha256": outputs.source_hash(), "git_commit": None, "git_dirty": None,
                    "git_note": "git not found"}


def test_the_code_is_read_once_a_process(monkeypatch):
    """git and the hash cost ~5-10 ms: a process that writes several records pays once."""
    calls = []
    monkeypatch.setattr(outputs, "_CODE", None)
    real = outputs.source_hash
    monkeypatch.setattr(outputs, "source_hash", lambda *a: calls.append(1) or real(*a))
    first = outputs.code_identity()
    for _ in range(2):  # a caller that edits its copy does not edit the cache
        outputs.code_identity()["git_note"] = "changed by a caller"
    assert outputs.code_identity() == outputs.environment()["code"] == first
    assert len(calls) == 1
