"""Planners: each turns a Region and a policy into a plan with ``summary()`` and ``apply(region)``."""
