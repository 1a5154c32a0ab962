"""Monitoring: is a deployed version still seeing the data, and doing the job, it was built for?

Reading order: :mod:`monitor` (the seam: pins, store, reference, current data) feeds the
pure parts: :mod:`drift` (per-feature tests, the heart), :mod:`quality` (schema
findings), :mod:`health` (request rate, errors, latency), :mod:`judge` (prediction drift,
and live scores against the version's evaluation with :mod:`performance`); :mod:`outcome`
draws the verdicts (concept drift), :mod:`report` and :mod:`page` render them.

The current data: :mod:`batch` reads a batch file or a dataset at a revision; for
prediction logs, :mod:`logs` reads the files one line at a time (:mod:`records`: the
serving layer's JSON lines and KServe CloudEvents, as one request each) and
:mod:`window` keeps, per monitored version, what its judgements need (inputs as
:mod:`compact` Arrow columns, health counters, the rows :mod:`labels` joins late labels
to). Both give a :class:`live.Live`; :mod:`columns` turns Arrow tables into arrays.
"""
