"""Experiments on the model: side-by-side comparisons, parameter sweeps and their
sensitivity report, and validation against the sources' stylized facts.

This package's own namespace stays light (no pandas, matplotlib or the model), so that
the command line checks its input before loading them."""

MIN_REPLICATES = 2  # a comparison's 95% CI needs a standard deviation


def ci_half_width(sd, n: int):
    """Half-width of the 95% CI of a mean of ``n`` values whose sample standard deviation
    (ddof=1) is ``sd`` (a number or an array): Student's t, t(0.975, n - 1) · sd / √n.
    The normal 1.96 would cover only ~88% of the time at 5 replicates (~70% at 2); t is
    exact for normal replicates. ``n`` must be at least 2. scipy is imported here, not at
    module level, so the command line's help and input checks stay fast."""
    import math

    from scipy.stats import t

    if n < MIN_REPLICATES:
        raise ValueError(f"a 95% CI needs at least {MIN_REPLICATES} values, got {n}")
    return float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


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
