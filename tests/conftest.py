import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# The default run is derandomized so that a test run gives the same answer on every machine;
# HYPOTHESIS_PROFILE=thorough draws new random examples, and more of them.
settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=25,
    derandomize=True,
)
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
