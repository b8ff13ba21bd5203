"""Tag thousands of files on an HTCondor or Slurm cluster through dask-jobqueue.

Each batch job runs one dask worker (one core, one ONNX Runtime thread); the
scheduler runs here, coffea's DaskExecutor sends it the chunks, and the
accumulator comes back to write the usual ``.coffea``, ROOT file and plots::

    python analysis_examples/tag_on_batch.py --batch condor --jobs 100 \\
        --files files.txt --out tagged/
    python analysis_examples/tag_on_batch.py --batch slurm --jobs 50 --queue short \\
        --files '/eos/.../*.root' --out tagged/
    python analysis_examples/tag_on_batch.py --batch print --files files.txt   # job script only

Worker nodes need jetscale installed (the model bytes travel with the
processor, so no shared filesystem is needed for the model) and read access
to the input files (xrootd URLs work through uproot's fsspec backends).
"""

from __future__ import annotations

import argparse
from typing import Any

#: The scheduler's ports: free ones, since shared login nodes often have 8786/8787 taken.
FREE_PORTS = {"port": 0, "dashboard_address": ":0"}


def make_cluster(batch: str, cores: int, memory: str, queue: str | None) -> Any:
    """A dask-jobqueue cluster: one single-core worker per batch job."""
    from dask_jobqueue import HTCondorCluster, SLURMCluster

    if batch == "condor":
        return HTCondorCluster(
            cores=cores, memory=memory, disk="2GB", processes=1, scheduler_options=FREE_PORTS
        )
    return SLURMCluster(
        cores=cores, memory=memory, processes=1, queue=queue, scheduler_options=FREE_PORTS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", choices=["condor", "slurm", "print"], required=True)
    parser.add_argument("--files", nargs="+", required=True, help="files, globs or .txt lists")
    parser.add_argument("--jobs", type=int, default=10, help="batch jobs (dask workers)")
    parser.add_argument("--memory", default="2GB", help="memory per job")
    parser.add_argument("--queue", help="Slurm partition")
    parser.add_argument("--out", default="jetscale-tag")
    args = parser.parse_args()

    cluster = make_cluster(
        "condor" if args.batch == "print" else args.batch, 1, args.memory, args.queue
    )
    if args.batch == "print":
        print(cluster.job_script())
        cluster.close()
        return

    from jetscale.jobs.tag import TagConfig, run_tag_job

    with cluster:
        cluster.scale(jobs=args.jobs)
        config = TagConfig(
            files=args.files,
            out=args.out,
            executor="dask",
            scheduler=cluster.scheduler_address,
        )
        result = run_tag_job(config)
    print("jets tagged:", result["accumulator"]["jets"])
    print("skipped files:", result["accumulator"]["skipped_files"])
    print("outputs:", {k: str(v) for k, v in result["outputs"].items() if k != "plots"})


if __name__ == "__main__":
    main()
