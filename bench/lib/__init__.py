"""What the benchmark scripts of bench/ share (they are the entry points; this is not one).

The scripts run as `python bench/<script>.py`, which puts bench/ first on sys.path, so they
import this as `lib`; the modules here import each other relatively.
"""
