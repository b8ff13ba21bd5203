"""``jetscale generate``: JetClass-format jets from Pythia 8 + FastJet + a detector card."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "generate JetClass-format jets with Pythia 8 + FastJet + a detector card"
EPILOG = (
    "Work units of 500 jets run in this process (--workers 1), in N processes "
    "(--workers N), on a local dask cluster (--executor dask --workers N) or on a running "
    "dask cluster (--scheduler ADDRESS, such as a dask-jobqueue cluster on Slurm or "
    "HTCondor; its workers need jetscale[gen]). Each finished unit is written to OUT/units "
    "at once, and a class's file once all its units are done: a run that stopped (killed, "
    "workers lost) is finished by running the same command again. The same --seed gives "
    "identical files for any executor and number of workers. Exit status 1: units were "
    "lost with their workers (listed); run the command again. New signal classes: "
    "X<decay>_m<mass>, a spin-0 resonance X of that mass (GeV, an integer) made as the "
    "Higgs in ZH with Z -> nu nu, decaying to bb, cc, qq (u, d, s), gg or 4q (W W*, "
    "mass >= 41 GeV), e.g. --classes Xbb_m60,QCD; its file has the ten label_* branches "
    "(false) and label_<class> (true). A --pt-range other than 500,1000 is part of the "
    "file names (Xbb_m60_cms_s1_pt200-400.root)."
)


def _pt_range(text: str) -> tuple[float, float]:
    """``--pt-range MIN,MAX`` (GeV) as two floats; argparse reports a bad value with the option."""
    from jetscale.generate.jets import PT_LIMIT, check_pt_range

    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return check_pt_range((float(parts[0]), float(parts[1])))
    except ValueError:
        msg = f"expected MIN,MAX in GeV with 0 < MIN < MAX <= {PT_LIMIT:g}, such as 500,1000; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "--out", type=Path, required=True, help="output directory for the ROOT files"
    )
    parser.add_argument(
        "--classes",
        default="all",
        help="'all' (JetClass's ten) or a comma-separated list of JetClass classes and new "
        "signals X<decay>_m<mass> (decay bb, cc, qq, gg or 4q; mass in GeV), such as "
        "QCD,Tbqq or Xbb_m60,QCD (default: %(default)s)",
    )
    parser.add_argument("--jets-per-class", type=int, required=True, help="jets per class")
    parser.add_argument(
        "--pt-range",
        type=_pt_range,
        default="500,1000",  # argparse converts a text default with `type`
        metavar="MIN,MAX",
        help="jet pT window in GeV; Pythia's pT-hat window follows it (0.9 MIN to 1.1 MAX) "
        "(default: %(default)s, as JetClass)",
    )
    parser.add_argument(
        "--detector",
        default="cms",
        help="detector card, see `jetscale cards` (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this machine, in a pool or a local dask cluster "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--executor",
        choices=("processes", "dask"),
        default=None,
        help="'processes' (default) or 'dask'; --scheduler implies 'dask'",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running dask scheduler, such as tcp://host:8786 (--workers is then "
        "unused) (default: none, workers on this machine)",
    )
    resim = parser.add_argument_group(
        "re-simulation (RS3L views)",
        "Each hard process once, its shower, MPI, hadronisation, decays and detector response "
        "K times: files <class>_<detector>_s<seed>_rs<K>.root with jet_group, jet_view and "
        "jet_hard_* branches; --jets-per-class then counts groups (hard-process objects with "
        "a matched jet in at least one view).",
    )
    resim.add_argument(
        "--resimulate",
        type=int,
        default=None,
        metavar="K",
        help="views of each hard process, at least 2 (default: none, plain generation)",
    )
    resim.add_argument(
        "--variations",
        default=None,
        metavar="NAMES",
        help="comma-separated variation of each view (K names): nominal (new random numbers "
        "only); fsr_up, fsr_down (the final-state shower's renormalisation scale x2, x1/2: up "
        "means less radiation); isr_up, isr_down (the same for initial-state radiation); "
        "hadronisation_pt_up, hadronisation_pt_down (StringPT:sigma +-20%%); detector=<card> "
        "(another card); such as nominal,nominal,fsr_up,detector=coarse (default: all nominal)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from jetscale.generate import GenerationIncompleteError, generate
    from jetscale.generate.signals import parse_generate_classes

    try:
        summary = generate(
            args.out,
            parse_generate_classes(args.classes),
            args.jets_per_class,
            detector=args.detector,
            seed=args.seed,
            workers=args.workers,
            progress=not args.no_progress,
            executor=args.executor,
            scheduler=args.scheduler,
            pt_range=args.pt_range,
            resimulate=args.resimulate,
            variations=None if args.variations is None else args.variations.split(","),
        )
    except GenerationIncompleteError as err:
        print(err.summary)
        print(f"jetscale generate: {err}", file=sys.stderr)
        return 1
    print(summary)
    return 0
