"""Fit Chinchilla's L(N, D) = E + A/N^alpha + B/D^beta to the demo study's table.

Run from the repository root: python docs/examples/scaling_fit.py
"""

from pathlib import Path

import numpy as np

from jetscale.scaling import compute_optimal, fit_parametric_law
from jetscale.scaling.table import read_table

table = read_table(Path("analysis_examples/scaling_demo/results/results.csv"))
# The main group of the demo: full21 features, 32 constituents, one epoch (fresh jets).
main = (table["feature_set"] == "full21") & (table["max_particles"] == 32) & (table["epochs"] == 1)
fit = fit_parametric_law(table["N"][main], table["D"][main], table["loss"][main], n_bootstrap=0)
print(f"{fit.n_points} runs: alpha = {fit.params['alpha']:.3f}, beta = {fit.params['beta']:.3f}")

# The compute-optimal split of a budget, C = 6 N D n_bar (n_bar constituents per jet).
n_bar = float(np.mean(table["tokens_per_jet"][main]))
n_opt, d_opt = compute_optimal(1e12 / n_bar, *(fit.params[k] for k in ("A", "alpha", "B", "beta")))
print(f"at 1e12 FLOPs: N_opt = {float(n_opt):.3g} parameters, D_opt = {float(d_opt):.3g} jets")
