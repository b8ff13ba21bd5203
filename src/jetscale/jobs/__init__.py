"""The work behind each command, above the library and below the command line.

* :mod:`.main` -- ``jetscale run``: sample, feature arrays, histograms, tagging, plots;
* :mod:`.tag` -- ``jetscale tag``: format and model choice, the coffea run, every output;
* :mod:`.fit` -- ``jetscale fit``: every scaling-law fit of a results table, JSON, plots;
* :mod:`.scan` -- ``jetscale scan``: a sweep of training runs as dask tasks, restartable.

Jobs return what they did as data; printing it is the commands' job
(:mod:`jetscale.commands`).
"""
