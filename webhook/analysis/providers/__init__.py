"""Metric providers: each turns one ``Metric`` into one number, or raises ``MeasurementError``.

Each module has a pure function that reads the provider's answer (table-tested) and a small
class whose ``measure(metric, context)`` does the HTTP exchange on the shared session.
"""
