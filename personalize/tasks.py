"""Celery tasks (thin wrappers over ``services``), gathered here for autodiscovery.

Each capability keeps its tasks in its own module; importing them here registers them.
"""
