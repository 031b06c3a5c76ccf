"""Design-space exploration on Dask: `hwgen explore MODEL -o DIR --board ... --target-fps ... --clock-mhz ...`.

Every point of the grid (board x target fps x clock) is one Dask task (hwgen.explore.task.run_point): a build,
optionally rtlsim on N random inputs checked bit-exact against qonnx, optionally yosys. Tasks are pure functions of
(model bytes, options): they run on any worker that has hwgen installed, keep no state in the worker, and return
their result as data, so a task lost with its worker is simply run again elsewhere. The client caches each finished
point under a hash of the model bytes and its options (DIR/points/<hash>/result.json) and writes results.json,
results.csv and index.html (Pareto plot of fps against LUTs).

Modules: points (grid, hashes, option lists), task (worker side), cluster (LocalCluster or a scheduler),
sweep (submit, progress, cache, retries), results (JSON, CSV, Pareto front), plot (SVG + HTML), batch (a large
rtlsim batch split over workers for `hwgen run --scheduler`).
"""

from hwgen.explore.sweep import explore

__all__ = ["explore"]
