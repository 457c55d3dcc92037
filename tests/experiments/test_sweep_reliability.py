"""Sweeps that cannot silently give a wrong answer (issue 13, items 1, 2, 4, 7, 8, 10, 12):
resume checks each run's fully resolved scenario, sweep-report says when runs are missing
or Sobol CIs are too wide, --out refuses unrelated folders, an unreachable or empty Dask
scheduler fails within a bounded time, and bad platform names or ranges are named."""

import json
import os
import shutil
import socket
import threading
import time

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.experiments.sweep_report import heatmap_figure, main_effects_figure, sobol_notes
from simulator.sweep import load_sweep, run_sweep

from ..conftest import SCENARIOS
from .sweep_files import write_sweep as write_tiny_sweep

BETA = '"platforms.douyin.beta" = [0.0, 2.0]'


def write_sweep(path, parameters=BETA, **knobs):
    return write_tiny_sweep(path, parameters, name="rel", **knobs)


def metric_table(df):
    cols = [c for c in df.columns if c not in ("wall_s",)]
    return df[cols].sort_values("run_id").reset_index(drop=True)


# ------------------------------------------------------------------ item 1: resume


def _copy_base(tmp_path):
    d = tmp_path / "scen"
    d.mkdir()
    for name in ("douyin.toml", "base.toml"):
        shutil.copy(SCENARIOS / name, d / name)
    return d / "douyin.toml"


@pytest.mark.parametrize("change", ["steps", "set", "base"])
def test_resume_recomputes_runs_whose_resolved_scenario_changed(tmp_path, capsys, change):
    """Guards item 1: after changing steps, [set] or the base scenario, --resume must not
    keep the old runs (it used to compare only parameters and seed). The resumed folder
    must equal a clean sweep of the new file, sweep.json must describe it, and the command
    must say what it recomputed and why."""
    base = _copy_base(tmp_path)
    f = write_sweep(tmp_path / "s.toml", base=base)
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out)]) == 0
    if change == "steps":
        write_sweep(f, base=base, steps=4)
        why = "steps 3 → 4"
    elif change == "set":
        write_sweep(f, base=base, users=500)
        why = "[set] changed"
    else:
        text = (base.parent / "base.toml").read_text()
        assert "\ncities = 20 " in text
        (base.parent / "base.toml").write_text(text.replace("\ncities = 20 ", "\ncities = 7 ", 1))
        why = "base scenario douyin.toml (or its extends chain) edited"
    capsys.readouterr()
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out), "--resume"]) == 0
    said = capsys.readouterr().out
    assert "kept 0 of 2 runs, recomputing 2" in said
    assert f"2 recomputed: scenario changed since they ran ({why})" in said
    clean = run_sweep(load_sweep(f), out=tmp_path / "clean")
    pd.testing.assert_frame_equal(metric_table(pd.read_parquet(out / "results.parquet")), metric_table(clean))
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest == json.loads((tmp_path / "clean" / "sweep.json").read_text()) | {
        "trafficsim_sweep": manifest["trafficsim_sweep"] | {"sweep_file": manifest["trafficsim_sweep"]["sweep_file"]}}
    assert sorted(p.name for p in (out / "superseded").glob("*.json")) == ["p00000-r000.json", "p00001-r000.json"]


def test_resume_keeps_unchanged_runs_and_drops_runs_no_longer_in_the_sweep(tmp_path, capsys):
    """Guards item 1: unchanged runs are kept (not re-run); runs of points removed from the
    sweep leave runs/ (moved to superseded/) so results.parquet has only this sweep's runs."""
    f = write_sweep(tmp_path / "s.toml", parameters='"platforms.douyin.beta" = [0.0, 1.0, 2.0]')
    out = tmp_path / "out"
    run_sweep(load_sweep(f), out=out)
    kept = (out / "runs" / "p00000-r000.json").stat().st_mtime_ns
    write_sweep(f, parameters='"platforms.douyin.beta" = [0.0, 1.0]')
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out), "--resume"]) == 0
    said = capsys.readouterr().out
    assert "kept 2 of 2 runs, recomputing 0" in said and "1 no longer part of the sweep" in said
    assert (out / "runs" / "p00000-r000.json").stat().st_mtime_ns == kept
    assert sorted(pd.read_parquet(out / "results.parquet").run_id) == ["p00000-r000", "p00001-r000"]
    assert (out / "superseded" / "p00002-r000.json").exists()
    # a second change: the runs it supersedes join the first ones there, none overwritten
    # (mutation checked: moved under their own name, the first set was lost)
    write_sweep(f, parameters='"platforms.douyin.beta" = [0.0, 1.5]')
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out), "--resume"]) == 0
    assert sorted(p.name for p in (out / "superseded").glob("*.json")) == ["p00001-r000.json", "p00002-r000.json"]
    write_sweep(f, parameters='"platforms.douyin.beta" = [0.0, 1.7]')
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out), "--resume"]) == 0
    assert sorted(p.name for p in (out / "superseded").glob("*.json")) == [
        "p00001-r000.1.json", "p00001-r000.json", "p00002-r000.json"]


def test_resume_does_not_trust_runs_without_a_fingerprint(tmp_path, capsys):
    """Guards item 1: a run file written by an older trafficsim (no fingerprint) is recomputed."""
    f = write_sweep(tmp_path / "s.toml")
    out = tmp_path / "out"
    run_sweep(load_sweep(f), out=out)
    run = out / "runs" / "p00001-r000.json"
    data = json.loads(run.read_text())
    del data["fingerprint"]
    run.write_text(json.dumps(data))
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out), "--resume"]) == 0
    said = capsys.readouterr().out
    assert "kept 1 of 2 runs, recomputing 1" in said and "without a scenario fingerprint" in said
    assert json.loads(run.read_text())["fingerprint"]


# ------------------------------------------------------------------ item 4: sweep-report


def test_sweep_report_says_when_runs_are_missing_or_failed(tmp_path, capsys):
    """Guards item 4: a report on a partly failed, interrupted sweep says N of M on the
    terminal and in report.md (it used to say "3 runs (2 ok, 1 failed)" as if complete)."""
    f = write_sweep(tmp_path / "s.toml", parameters='"platforms.douyin.beta" = [0.0, 1.0]', replicates=2)
    out = tmp_path / "out"
    run_sweep(load_sweep(f), out=out)
    (out / "runs" / "p00001-r001.json").unlink()
    failed = out / "runs" / "p00001-r000.json"
    failed.write_text(json.dumps(json.loads(failed.read_text()) | {"status": "failed", "error": "boom"}))
    capsys.readouterr()
    assert main(["sweep-report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "incomplete sweep: 3 of 4 runs present, 2 succeeded (1 failed, 1 missing)" in err
    assert "--resume" in err
    md = (out / "report" / "report.md").read_text()
    assert "incomplete sweep: 3 of 4 runs present, 2 succeeded" in md


def test_complete_sweep_report_has_no_warning(tmp_path, capsys):
    """The warning is not raised on a complete sweep (so it cannot be always on)."""
    out = tmp_path / "out"
    run_sweep(load_sweep(write_sweep(tmp_path / "s.toml")), out=out)
    assert main(["sweep-report", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert "Warning" not in (out / "report" / "report.md").read_text()


def test_sobol_ci_wider_than_the_index_warns_with_the_n_that_would_do():
    """Guards item 4: CIs shrink like 1/sqrt(N). At N = 8, half-widths 0.4 (median of the
    unreliable indices) need N ≈ 8·(0.4/0.1)² = 128 for ±0.1 and the widest (1.6) 8·16² = 2048.
    Narrow CIs, or CIs narrower than the index, give no warning."""
    sob = pd.DataFrame({"metric": ["a", "b", "c"], "parameter": ["x", "x", "y"], "S1": [0.2, 0.1, 0.0],
                        "S1_conf": [0.4, 0.4, 1.6], "ST": [0.5, 0.5, 0.5], "ST_conf": [0.05, 0.05, 0.05]})
    notes = sobol_notes(sob, n=8, d=2, replicates=1)
    assert len(notes) == 1 and "3 of 6 indices" in notes[0] and "too small" in notes[0]
    assert "samples ≈ 128 (512 runs)" in notes[0] and "widest ±1.60 for c / y" in notes[0]
    assert "the widest would need samples ≈ 2048 (8,192 runs)" in notes[0]
    assert sobol_notes(sob.assign(S1_conf=0.05), n=8, d=2, replicates=1) == []
    assert sobol_notes(sob.assign(S1=[0.9, 0.9, 0.9], S1_conf=[0.3, 0.3, 0.3]), n=8, d=2, replicates=1) == []


def test_small_sobol_sweep_report_warns(tmp_path, capsys):
    """Guards item 4 end to end: a Sobol sweep with N = 4 gets the warning in report.md and on stderr."""
    rng = '"platforms.douyin.beta" = { range = [0.0, 3.0] }\n"platforms.douyin.follow_share" = { range = [0.05, 0.5] }'
    out = tmp_path / "out"
    run_sweep(load_sweep(write_sweep(tmp_path / "s.toml", parameters=rng, method="sobol", samples=4)), out=out)
    assert main(["sweep-report", str(out)]) == 0
    assert "Sobol indices unreliable" in capsys.readouterr().err
    assert "too small" in (out / "report" / "report.md").read_text()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_sobol_report_skips_a_metric_that_does_not_vary(tmp_path):
    """A metric with the same value at every design point (here, with beta's and the follow
    share's ranges, at least one of the report's metrics) gets a line saying it has no
    variance to apportion, not NaN indices from SALib's division by a zero spread (which
    warned and wrote NaN rows before)."""
    rng = '"platforms.douyin.beta" = { range = [0.0, 3.0] }\n"platforms.douyin.follow_share" = { range = [0.05, 0.5] }'
    out = tmp_path / "out"
    run_sweep(load_sweep(write_sweep(tmp_path / "s.toml", parameters=rng, method="sobol", samples=4)), out=out)
    assert main(["sweep-report", str(out)]) == 0
    report = (out / "report" / "report.md").read_text()
    assert "no variance to apportion" in report
    sob = pd.read_csv(out / "report" / "sobol.csv")
    assert len(sob) and not sob[["S1", "ST"]].isna().any().any()


# ------------------------------------------------------------------ item 7: --out


def test_sweep_refuses_an_unrelated_non_empty_folder(tmp_path, capsys):
    """Guards item 7: --out into a folder that is not a sweep folder is exit 2 and one line,
    with or without --resume, and nothing is written into it."""
    f = write_sweep(tmp_path / "s.toml")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("mine")
    for extra in ([], ["--resume"]):
        assert main(["sweep", str(f), "--out", str(junk), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not a sweep folder" in err
    assert [p.name for p in junk.iterdir()] == ["notes.txt"]
    assert main(["sweep", str(f), "--out", str(junk / "notes.txt")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_a_sweep_folder_needs_resume(tmp_path, capsys):
    """Guards item 7: a sweep folder (recognised by its sweep.json) is continued only with --resume."""
    f = write_sweep(tmp_path / "s.toml")
    out = tmp_path / "out"
    run_sweep(load_sweep(f), out=out)
    assert main(["sweep", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use --resume" in err


# ------------------------------------------------------------------ item 8: scheduler


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_fails_with_one_line(tmp_path, capsys):
    """Guards item 8: an unreachable --scheduler is exit 2 with one line after --scheduler-timeout
    (it used to wait 30 s and then traceback)."""
    f = write_sweep(tmp_path / "s.toml")
    addr = f"tcp://127.0.0.1:{_unused_port()}"
    assert main(["sweep", str(f), "--out", str(tmp_path / "o"), "--scheduler", addr, "--scheduler-timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--scheduler {addr}: no Dask scheduler answered within 1 s" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("reply", [None, b"HTTP/1.0 426 Upgrade Required\r\nconnection: close\r\n\r\n"])
def test_a_service_that_is_not_a_scheduler_fails_with_one_line_in_time(tmp_path, reply):
    """Guards sweep._handshake: --scheduler at a service that accepts the connection and
    never answers in Dask's protocol (None: silent, as the scheduler's own HTTP port 8787
    is to a Dask client) or answers something else (an HTTP reply, which Dask read as a
    message of 3 EiB: "Unable to allocate 3.07 EiB") is exit 2 with one line within
    --scheduler-timeout. Mutation checked: without the handshake, the silent service held
    the command until the test's 60 s ran out."""
    import subprocess
    import sys
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)
            if reply is not None:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    addr = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    f = write_sweep(tmp_path / "s.toml")
    try:
        done = subprocess.run([sys.executable, "-m", "simulator.cli", "sweep", str(f), "--out", str(tmp_path / "o"),
                               "--scheduler", addr, "--scheduler-timeout", "2"], capture_output=True, text=True,
                              timeout=60)
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"trafficsim: error: --scheduler {addr}: ")
    assert ("no Dask scheduler answered within 2 s" if reply is None else "is not a Dask scheduler") in done.stderr
    assert not (tmp_path / "o").exists()


def test_scheduler_without_workers_says_it_waits_then_fails(tmp_path, capsys):
    """Guards item 8: a scheduler with no worker used to hang silently; now a progress line,
    then exit 2 after --wait-workers."""
    from dask.distributed import LocalCluster

    f = write_sweep(tmp_path / "s.toml")
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        rc = main(["sweep", str(f), "--out", str(tmp_path / "o"), "--scheduler", cluster.scheduler_address,
                   "--wait-workers", "1"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "waiting up to 1 s for a worker" in err
    assert err.strip().splitlines()[-1].endswith("no worker joined within 1 s (start one with "
                                                 f"`dask worker {cluster.scheduler_address}`, or raise --wait-workers)")
    assert not (tmp_path / "o").exists()


def _sleep_then_echo(task):
    time.sleep(task)
    return task


def _die_on_zero(task):
    """Kills the worker process that runs it when ``task`` is 0 (a run out of memory)."""
    if task == 0:
        os._exit(1)
    return task


def _run_all_in_thread(ex, fn, tasks, failed=None, limit=60.0):
    """run_all(ex, fn, tasks) in a thread, for at most ``limit`` s: (results, error raised,
    seconds taken); the error is "hung" when it did not return in time."""
    from simulator.experiments.sweep import run_all

    results, raised = [], []

    def go():
        try:
            run_all(ex, fn, tasks, results.append, failed=failed)
        except BaseException as exc:
            raised.append(exc)

    t0 = time.monotonic()
    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(limit)
    return results, (raised[0] if raised else ("hung" if thread.is_alive() else None)), time.monotonic() - t0


def test_runs_pending_on_a_cluster_without_workers_stop_after_the_wait(monkeypatch):
    """Guards DaskExecutor.check: runs pending on a cluster that has no worker (every
    worker died mid-sweep and none came back) end in ClusterLost once wait_workers has
    passed, where the command waited silently forever. Mutation checked: without the
    check, run_all was still waiting at the test's limit."""
    from dask.distributed import Client, LocalCluster

    from simulator.experiments import sweep
    from simulator.experiments.sweep import ClusterLost, DaskExecutor

    monkeypatch.setattr(sweep, "WATCH_S", 0.2)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
        results, raised, took = _run_all_in_thread(DaskExecutor(client, wait_workers=1.0), _sleep_then_echo,
                                                   [0.0, 0.0], limit=30)
        client.cancel(list(client.futures))  # (a hung mutant's futures)
    assert isinstance(raised, ClusterLost), raised
    assert str(raised) == "the cluster has had no worker for 1 s, with 2 runs to go"
    assert results == [] and took < 20


def test_a_run_that_kills_its_worker_is_a_failed_run_and_the_others_go_on():
    """Guards run_all's ``failed``: a run whose Dask worker dies every time it runs it
    (out of memory: Dask gives up with KilledWorker) is recorded as failed, with why, and
    the other runs finish; it used to end the whole sweep with a traceback (exit 3).
    Mutation checked: without ``failed``, run_all raised KilledWorker."""
    import dask
    from dask.distributed import Client, LocalCluster

    from simulator.experiments.sweep import DaskExecutor

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        results, raised, _ = _run_all_in_thread(DaskExecutor(client), _die_on_zero, [0, 1, 2],
                                                failed=lambda task, error: ("failed", task, error), limit=120)
    assert raised is None, raised
    # every run has its record (a run queued on the dying worker may be counted against too)
    assert sorted(r[1] if isinstance(r, tuple) else r for r in results) == [0, 1, 2]
    assert 2 in results  # queued after the deaths: it ran
    gone = [r for r in results if isinstance(r, tuple) and r[1] == 0]
    assert gone and gone[0][2].startswith("KilledWorker: each Dask worker that ran it died")


def test_a_lost_scheduler_is_one_line_and_the_finished_runs_are_kept(tmp_path, capsys):
    """Guards run_all's cancelled futures and the CLI's ClusterLost: a scheduler that goes
    away mid-sweep (here closed under the sweep) is exit 2 with one line and the finished
    runs kept; it used to be the client's logged tracebacks, then "internal error ...
    please report it" and exit 3 (52 lines, measured with a real scheduler killed
    mid-sweep). Mutation checked: with cancelled futures left to fut.result(), the
    CancelledError was a crash (exit 3, a traceback)."""
    from dask.distributed import LocalCluster

    f = write_sweep(tmp_path / "s.toml", '"platforms.douyin.beta" = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]', steps=40,
                    users=2000)
    out = tmp_path / "o"
    # the worker in a process of its own: a run stepped in a thread of this process would
    # set numba's threading layer for the tests after it (the feeds would stay sequential)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address

        def close_when_a_run_is_done():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not list(out.glob("runs/*.json")):
                time.sleep(0.05)
            cluster.sync(cluster.scheduler.close)

        closer = threading.Thread(target=close_when_a_run_is_done, daemon=True)
        closer.start()
        rc = main(["sweep", str(f), "--out", str(out), "--scheduler", address, "--scheduler-timeout", "2"])
        closer.join(5)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"trafficsim: error: --scheduler {address}: "
                                                   "the Dask scheduler went away, with ")
    assert lines[0].endswith("runs to go; finished runs are kept (use --resume)")
    kept = list((out / "runs").glob("*.json"))
    assert 1 <= len(kept) < 6 and (out / "results.parquet").exists()


def test_a_worker_with_other_code_fails_its_runs_and_says_so():
    """Guards sweep._on_worker: a Dask worker whose trafficsim source differs from the
    sending process's (another checkout, an older install) fails each run it is sent,
    naming both source hashes, instead of giving that code's results under the record of
    this one (its ``code``). Mutation checked: without the comparison, the runs ran."""
    from dask.distributed import Client, LocalCluster

    from simulator.experiments.sweep import DaskExecutor
    from simulator.io.outputs import code_identity

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        same = DaskExecutor(client)
        ok, raised, _ = _run_all_in_thread(same, _sleep_then_echo, [0.0], failed=lambda t, e: e)
        assert raised is None and ok == [0.0]
        other = DaskExecutor(client)
        other._code = "0123456789abcdef"  # as if this process had other code than the worker
        results, raised, _ = _run_all_in_thread(other, _sleep_then_echo, [0.0], failed=lambda t, e: e)
    assert raised is None and len(results) == 1
    assert results[0].startswith("OtherCode: the Dask worker on ")
    assert f"runs other trafficsim code (source_sha256 {code_identity()['source_sha256']}; the command's is " \
           "0123456789abcdef): install the same code on every worker" in results[0]


def test_the_sweeps_last_line_gives_the_first_failures_error(tmp_path, capsys):
    """Guards cmd_sweep's last line: with failed runs it gives the first one's error (on a
    cluster, say, a follow-graph file missing on the workers: every run failed and the
    line said only "8 of 8 runs (8 failed)"). Mutation checked: without it, the line did
    not name the file."""
    missing = tmp_path / "missing.csv"
    f = write_sweep(tmp_path / "s.toml", f'"graph.follow_graph_file" = ["", "{missing}"]', steps=2)
    assert main(["sweep", str(f), "--workers", "1", "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"2 of 2 runs (1 failed; the first, p00001-r000: ScenarioError: {missing}: graph.follow_graph_file: file not "
        f"found); results: {tmp_path / 'o' / 'results.parquet'}")


def test_a_sweep_whose_every_run_failed_exits_1(tmp_path, capsys):
    """A sweep with no successful run has no result to give: exit code 1 and a line on
    stderr (it exited 0, as a sweep that lost only some runs does). Mutation checked."""
    missing = tmp_path / "missing.csv"
    f = write_sweep(tmp_path / "s.toml", f'"graph.follow_graph_file" = ["{missing}"]', steps=2)
    assert main(["sweep", str(f), "--workers", "1", "--out", str(tmp_path / "o")]) == 1
    said = capsys.readouterr()
    assert "1 of 1 runs (1 failed" in said.out and "no run succeeded" in said.err


# ------------------------------------------------------------------ items 2 and 10: keys and ranges


@pytest.mark.parametrize("where", ["parameters", "set"])
def test_a_sweep_cannot_create_a_platform(tmp_path, capsys, where):
    """Guards item 2 (sweep part): a misspelled platform in a sweep parameter or [set] key is
    exit 2 naming the key and the platforms that exist (it used to add a default platform)."""
    if where == "parameters":
        f = write_sweep(tmp_path / "s.toml", parameters='"platforms.douyn.beta" = [0.0, 2.0]')
    else:
        f = write_sweep(tmp_path / "s.toml")
        f.write_text(f.read_text().replace("[set]\n", '[set]\n"platforms.douyn.beta" = 2.0\n'))
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"s.toml: {where}.platforms.douyn.beta: no platform 'douyn' in the base scenario (platforms: douyin)" in err
    assert not (tmp_path / "o").exists()


def test_an_out_of_range_range_reports_the_range(tmp_path, capsys):
    """Guards item 10 (sweep part): the error names the range given and the allowed range,
    not a value sampled from it ("got 83.07")."""
    f = write_sweep(tmp_path / "s.toml", parameters='"platforms.douyin.beta" = { range = [0.0, 83.0] }', method="lhs")
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "parameters.platforms.douyin.beta: range = [0, 83] is outside the allowed range (0.0..50.0)" in err
    assert "got" not in err
    f = write_sweep(tmp_path / "s.toml", parameters='"population.cities" = { range = [2, 30] }', method="sobol")
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    assert "range = [2, 30]: an integer key" in capsys.readouterr().err


# ------------------------------------------------------------------ item 12: figures


def test_report_figures_read_at_normal_size_with_numbers_in_heatmap_cells(tmp_path):
    """Guards item 12 (sweep part): figures were 3,300 × 300 px strips; now grids of at most
    three columns, and every heatmap cell has its value written in it."""
    rng = np.random.default_rng(0)
    a, b = "platforms.douyin.beta", "platforms.douyin.follow_share"
    metrics = [f"m{i}" for i in range(10)]
    ok = pd.DataFrame([{a: x, b: y, **{m: rng.normal() * 1e5 for m in metrics}}
                       for x in (0.0, 1.0) for y in (0.1, 0.2, 0.3) for _ in range(2)])
    fig = heatmap_figure(ok, a, b, metrics)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title() in metrics]
    assert len(panels) == 10 and all(len(ax.texts) == 6 for ax in panels)
    assert not any("e+" in t.get_text() for ax in panels for t in ax.texts)
    w, h = fig.get_size_inches() * 100
    assert w <= 1400 and w / h < 2
    effects = pd.DataFrame([{"parameter": a, "level": x, "metric": m, "mean": 1.0, "ci_low": 0.5, "ci_high": 1.5}
                            for x in (0.0, 1.0) for m in metrics])
    w, h = main_effects_figure(effects, a, metrics).get_size_inches() * 100
    assert w <= 1400 and w / h < 2


def test_report_pngs_are_not_strips(tmp_path):
    """Guards item 12 on the written files: no PNG of the report is wider than 1,400 px or
    more than twice as wide as high."""
    out = tmp_path / "out"
    grid = '"platforms.douyin.beta" = [0.0, 2.0]\n"platforms.douyin.follow_share" = [0.05, 0.3]'
    run_sweep(load_sweep(write_sweep(tmp_path / "s.toml", parameters=grid)), out=out)
    assert main(["sweep-report", str(out)]) == 0
    pngs = list((out / "report").glob("*.png"))
    assert len(pngs) == 3
    for p in pngs:
        h, w = mpimg.imread(p).shape[:2]
        assert w <= 1400 and w / h < 2, (p.name, w, h)


@pytest.mark.parametrize("flag, value", [("--scheduler-timeout", "0"), ("--wait-workers", "inf"),
                                         ("--wait-workers", "nan")])
def test_scheduler_waits_must_be_bounded(tmp_path, capsys, flag, value):
    """Guards item 8: the waits are bounded, so 0, inf and nan are refused before any work."""
    f = write_sweep(tmp_path / "s.toml")
    assert main(["sweep", str(f), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1", flag, value]) == 2
    assert f"{flag}: must be a finite number of seconds > 0" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_sweep_records_which_code_made_its_runs(tmp_path, capsys):
    """Each run says which code made it (its worker's source hash), sweep.json counts the
    runs per code, and a resumed sweep whose kept runs an earlier code made says so (it
    kept them silently, and sweep.json named only the resuming call's code). Fails without
    the stamp in run_one, or without the warning."""
    from simulator.io.outputs import source_sha256

    f = write_sweep(tmp_path / "s.toml")
    out = tmp_path / "out"
    run_sweep(load_sweep(f), out=out)
    mine = source_sha256()
    assert mine and list(pd.read_parquet(out / "results.parquet").code) == [mine, mine]
    assert json.loads((out / "sweep.json").read_text())["trafficsim_sweep"]["run_codes"] == {mine: 2}
    run = out / "runs" / "p00001-r000.json"
    data = json.loads(run.read_text())
    data["code"] = "0123456789abcdef"  # as an earlier code would have stamped it
    run.write_text(json.dumps(data))
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out), "--resume"]) == 0
    said = capsys.readouterr()
    assert "kept 2 of 2 runs" in said.out
    assert "not every run" in said.out + said.err and "0123456789abcdef: 1 runs" in said.out + said.err
    assert json.loads((out / "sweep.json").read_text())["trafficsim_sweep"]["run_codes"] == {
        mine: 1, "0123456789abcdef": 1}
    assert sorted(pd.read_parquet(out / "results.parquet").code) == sorted([mine, "0123456789abcdef"])
