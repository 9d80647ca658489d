"""Checks for CI: expectations (expect.py: --expect, assert_shapes), spec files of
`lstm-trace check` (spec.py) and their runs (checks.py), and saved traces read back
(trace_doc.py) and compared (diff.py) for `lstm-trace diff`."""
