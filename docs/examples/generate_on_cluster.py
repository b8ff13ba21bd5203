"""Generate jets on a batch cluster through dask-jobqueue (Slurm here; HTCondor alike).

On a Slurm login node this submits worker jobs; anywhere else it starts a local
cluster of two processes instead, so the example runs as shown.
Run from the repository root: python docs/examples/generate_on_cluster.py [OUT]
(the ``__main__`` guard is needed: dask's local worker processes import this script).
"""

import shutil
import sys
import tempfile

import dask
from dask.distributed import Client, LocalCluster

from jetscale.generate import GenerationIncompleteError, generate


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="jetscale-generate-")

    # A unit whose worker dies (a job pre-empted or out of memory) fails alone instead of
    # being retried on other workers; the run reports it and the next run makes it.
    dask.config.set({"distributed.scheduler.allowed-failures": 0})
    if shutil.which("sbatch"):  # a Slurm login node
        from dask_jobqueue import SLURMCluster  # HTCondorCluster: the same, plus disk="4GB"

        cluster = SLURMCluster(
            cores=8,
            processes=8,  # one single-threaded worker per core: a unit is single-threaded
            memory="16GB",
            walltime="04:00:00",
            job_script_prologue=["source ~/venvs/jetscale/bin/activate"],  # jetscale[gen] there
        )
        cluster.scale(jobs=25)  # 200 workers; the driver hands out units as they join
        jets_per_class = 1_000_000
    else:
        # Free ports: the default dashboard port, 8787, may be another cluster's.
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
        jets_per_class = 20

    with cluster, Client(cluster) as client:
        try:
            summary = generate(
                out, ["QCD", "Tbqq"], jets_per_class, seed=7, client=client, progress=False
            )
        except GenerationIncompleteError as err:  # workers died: run the script again
            sys.exit(str(err))
    print(summary)


if __name__ == "__main__":
    main()
