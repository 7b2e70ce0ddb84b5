"""The optional columns of the open indicator set in a synthetic region: digital campus, campus
safety and teacher training, with an urban-town-rural gap.

They are drawn from their own random stream (seeded from the region's seed and :data:`STREAM`), after
everything else, so the other columns of a region of a given seed are the same with or without them.

Calibration (planning values, unconfirmed; no published school-level distribution was found):
every urban and town school is online and almost every rural one (the 2019-2020 school-connection
campaign reported all schools connected); bandwidth mostly 500-1000 Mbps in the city, 100-500 in
towns, 20-200 in villages; smart classrooms for 80-100 % of classes in the city against 20-70 % in
villages; a device per teacher in the city, 0.4-0.9 in villages; the campus-safety items almost
everywhere in the city and in 50-70 % of village schools; about 340 training hours per teacher in
the city against 230 in villages, and 70 % against 30 % of teachers trained at county level or above.
Town junior and nine-year schools often board (70 %), rural primary schools sometimes (25 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["STREAM", "OPEN_COLUMNS", "add_open_columns"]

#: The spawn key of the open columns' random stream (one per seed, apart from the main stream).
STREAM = 21
#: The columns :func:`add_open_columns` adds, in order.
OPEN_COLUMNS = (
    "internet_access",
    "bandwidth_mbps",
    "smart_classrooms",
    "teacher_devices",
    "platform_access",
    "security_staff",
    "closed_campus",
    "alarm_video_linked",
    "guard_post",
    "boarding_school",
    "dorm_night_duty",
    "teacher_training_hours",
    "principal_training_hours",
    "teachers_trained_county",
)
_AREA_INDEX = {"urban": 0, "town": 1, "rural": 2}
# (urban, town, rural)
_ONLINE = (1.0, 1.0, 0.96)
_BANDWIDTH = (
    ((100, 200, 500, 1000), (0.05, 0.1, 0.35, 0.5)),
    ((50, 100, 200, 500, 1000), (0.05, 0.3, 0.35, 0.2, 0.1)),
    ((10, 20, 50, 100, 200), (0.1, 0.2, 0.3, 0.3, 0.1)),
)
_SMART = ((0.8, 1.0), (0.5, 0.9), (0.2, 0.7))
_DEVICES = ((0.9, 1.2), (0.7, 1.0), (0.4, 0.9))
_PLATFORM = (0.98, 0.9, 0.7)
_CLOSED = (0.99, 0.92, 0.7)
_ALARM = (0.97, 0.85, 0.55)
_GUARD = (0.95, 0.8, 0.5)
_NIGHT_DUTY = (0.95, 0.85, 0.6)
_HOURS = ((340.0, 40.0), (290.0, 50.0), (230.0, 60.0))
_PRINCIPAL_HOURS = ((350.0, 40.0), (310.0, 50.0), (250.0, 70.0))
_TRAINED = (0.7, 0.5, 0.3)


def _by_area(values, area: np.ndarray) -> np.ndarray:
    return np.array([values[_AREA_INDEX[a]] for a in area])


def add_open_columns(schools: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The schools table with the open-indicator columns added (:data:`OPEN_COLUMNS`).

    Parameters
    ----------
    schools : pandas.DataFrame
        A synthetic schools table (``area_type``, ``level``, ``classes``, ``teachers`` and the
        pupil columns); it is not changed.
    seed : int
        The region's seed; the columns come from the stream ``SeedSequence(seed, spawn_key=(21,))``.

    Returns
    -------
    pandas.DataFrame
        A copy with the columns added, all whole numbers (counts, 0/1 flags, Mbps, hours), so they
        read back exactly from CSV and Excel.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> s = make_region(schools=60, seed=1).schools
    >>> bool((s["teachers_trained_county"] <= s["teachers"]).all())
    True
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM,)))
    out = schools.copy()
    n = len(out)
    area = out["area_type"].astype(str).to_numpy()
    level = out["level"].astype(str).to_numpy()
    classes = out["classes"].to_numpy(float)
    teachers = out["teachers"].to_numpy(np.int64)
    pupils = sum(out[c].to_numpy(float) for c in out.columns if c.startswith("pupils_"))
    online = rng.random(n) < _by_area(_ONLINE, area)
    out["internet_access"] = online.astype(np.int64)
    bandwidth = np.zeros(n)
    for i, a in enumerate(area):
        tiers, p = _BANDWIDTH[_AREA_INDEX[a]]
        bandwidth[i] = rng.choice(tiers, p=p)
    out["bandwidth_mbps"] = np.where(online, bandwidth, 0).astype(np.int64)
    low, high = np.array([_SMART[_AREA_INDEX[a]] for a in area]).T
    out["smart_classrooms"] = np.round(classes * rng.uniform(low, high)).astype(np.int64)
    low, high = np.array([_DEVICES[_AREA_INDEX[a]] for a in area]).T
    out["teacher_devices"] = np.round(teachers * rng.uniform(low, high)).astype(np.int64)
    out["platform_access"] = (online & (rng.random(n) < _by_area(_PLATFORM, area))).astype(np.int64)
    staff = np.where(area == "urban", 2 + np.floor(pupils / 1000), rng.integers(0, 3, n))
    staff = np.where((area == "rural") & (rng.random(n) < 0.4), 0, staff)
    out["security_staff"] = staff.astype(np.int64)
    for column, shares in (
        ("closed_campus", _CLOSED),
        ("alarm_video_linked", _ALARM),
        ("guard_post", _GUARD),
    ):
        out[column] = (rng.random(n) < _by_area(shares, area)).astype(np.int64)
    board_p = np.where(
        (area == "town") & np.isin(level, ["junior", "nine_year"]),
        0.7,
        np.where(
            (area == "rural") & (level == "primary"),
            0.25,
            np.where(area == "town", 0.3, np.where(level == "senior", 0.5, 0.03)),
        ),
    )
    boarding = rng.random(n) < board_p
    out["boarding_school"] = boarding.astype(np.int64)
    duty = rng.random(n) < _by_area(_NIGHT_DUTY, area)
    out["dorm_night_duty"] = (boarding & duty).astype(np.int64)
    mean, sd = np.array([_HOURS[_AREA_INDEX[a]] for a in area]).T
    hours = np.round(teachers * np.clip(rng.normal(mean, sd), 0, 600))
    out["teacher_training_hours"] = hours.astype(np.int64)
    mean, sd = np.array([_PRINCIPAL_HOURS[_AREA_INDEX[a]] for a in area]).T
    hours = np.round(np.clip(rng.normal(mean, sd), 0, 600))
    out["principal_training_hours"] = hours.astype(np.int64)
    out["teachers_trained_county"] = rng.binomial(teachers, _by_area(_TRAINED, area)).astype(
        np.int64
    )
    return out
