"""The machine's float32 matrix-multiply peak, and workloads timed in pairs with it.

The peak is two 2048x2048 products in one `tf.function` (34.4 GFLOP a call).
On a shared machine the load changes from second to second, so a workload
is never compared with a peak measured at another time: every timed call of
the workload is paired with a peak call right next to it, and the ratio of
the pair is kept. The median of the pairs' ratios is what a round reports.

Every call is timed on two clocks. Wall time is what a user waits for.
Process CPU time (all threads) is the work done, and barely moves when
other processes compete for the cores, which wall time does a lot (a
2-thread matrix product waits for its slower thread): on a loaded machine
the CPU-time ratio is the steadier measure of the same efficiency.
"""

import statistics
import time

PEAK_SIZE = 2048
PEAK_FLOPS = 2 * 2 * PEAK_SIZE**3
CLOCKS = ("wall", "cpu")


def matmul_peak(tf):
    """A zero-argument callable running the peak workload (returns after the products are done)."""
    a = tf.random.stateless_normal((PEAK_SIZE, PEAK_SIZE), seed=[1, 2])
    b = tf.random.stateless_normal((PEAK_SIZE, PEAK_SIZE), seed=[3, 4])

    @tf.function
    def products(a, b):
        return tf.reduce_sum(tf.matmul(a, b)[0]) + tf.reduce_sum(tf.matmul(b, a)[0])

    def run():
        return float(products(a, b))

    run()
    return run


def timed(fn):
    """{"wall": seconds, "cpu": process CPU seconds} of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def paired(fns, reps):
    """Time each callable of `fns` (a dict) `reps` times, round robin: {name: [timing, ...]}."""
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def fraction_of_peak(work_flops, work_times, peak_times):
    """{clock: median over pairs of (work GFLOP/s) / (peak GFLOP/s)}."""
    return {clock: statistics.median((work_flops / w[clock]) / (PEAK_FLOPS / p[clock])
                                     for w, p in zip(work_times, peak_times)) for clock in CLOCKS}


def peak_gflops(peak_times):
    return statistics.median(PEAK_FLOPS / p["wall"] / 1e9 for p in peak_times)


def paired_ratio(numerator_times, denominator_times):
    """{clock: median over pairs of time(numerator) / time(denominator)}."""
    return {clock: statistics.median(a[clock] / b[clock] for a, b in zip(numerator_times, denominator_times))
            for clock in CLOCKS}
