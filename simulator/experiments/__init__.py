"""Experiments on the model: side-by-side comparisons, parameter sweeps and their
sensitivity report, and validation against the sources' stylized facts.

This package's own namespace stays light (no pandas, matplotlib or the model), so that
the command line checks its input before loading them."""

MIN_REPLICATES = 2  # a comparison's 95% CI needs a standard deviation


def feed_user_days(scenario) -> int:
    """A run's feed user-days: steps × users × feed platforms (what
    ``numpy_kernels.prefer_compiled_for`` counts)."""
    return scenario.steps * scenario.population.users * sum(scenario.feed_platforms())


def user_days_share(user_days, executor) -> int:
    """The feed user-days (``user_days``: one figure a run, :func:`feed_user_days`) that
    each process running the runs on ``executor`` is expected to build: all of them in
    this process (``None``, a thread pool), an even share of a process pool's workers; 0
    where the number of processes is not known (a Dask cluster's executor), which leaves
    the switch to the runs a process has built. Each task carries it to its worker, which
    passes it to ``numpy_kernels.expect_user_days`` before its run: a batch big enough for
    the compiled kernels' loading to be repaid runs them from each worker's first run
    (the same results)."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if executor is None or isinstance(executor, ThreadPoolExecutor):
        workers = 1
    elif isinstance(executor, ProcessPoolExecutor):
        workers = max(1, getattr(executor, "_max_workers", 0))
    else:
        return 0
    return -(-sum(user_days) // workers)
