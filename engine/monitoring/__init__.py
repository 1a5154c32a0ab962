"""Monitoring: is a deployed version still seeing the data, and doing the job, it was built for?

Reading order: :mod:`monitor` (the seam: pins, store, reference, current data) feeds the
pure parts: :mod:`drift` (per-feature tests, the heart), :mod:`quality` (schema
findings), :mod:`health` (request rate, errors, latency), :mod:`performance` (live
scores against the version's evaluation); :mod:`outcome` draws the verdicts
(concept drift), :mod:`report` and :mod:`page` render them. :mod:`logs` reads the serving
layer's JSON lines and KServe CloudEvents; :mod:`columns` turns Arrow tables into arrays.
"""
