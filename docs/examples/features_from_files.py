"""Feature arrays of JetClass-format files, chunk by chunk.

Run: python docs/examples/features_from_files.py "jetscale-output/sample/*.root"
(paths, globs, directories or .txt file lists; JetClass ROOT or parquet).
"""

import sys

import numpy as np

from jetscale.features import build_features, feature_batches
from jetscale.io import iterate_jets

n_jets = 0
for jets in iterate_jets(sys.argv[1:], step_size="100 MB"):  # never all files in memory
    x, mask = build_features(jets, feature_set="full21", max_particles=128)
    # x: float32 (N, 128, 21), C-contiguous; mask: bool (N, 128), True for real constituents
    n_jets += len(x)
    print(
        f"chunk of {len(x)} jets: x {x.shape} {x.dtype}, {mask.sum(axis=1).mean():.1f} constituents"
    )

    # For inference or training loops: batches written into one reused buffer.
    for _start, x_batch, mask_batch in feature_batches(jets, 256, feature_set="kinpid"):
        assert np.isfinite(x_batch[mask_batch]).all()  # consume before the next batch
print(f"{n_jets} jets")
