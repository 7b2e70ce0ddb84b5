"""Draw the school districts of a synthetic county as a PNG.

    python examples/draw_districts.py [out.png] [schools] [seed]

Schools are dots sized by pupils and coloured by district, strong schools (top quarter of the
quality index) are stars, grey lines are the adjacency graph the districts are drawn on.
"""

from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from allocator.planners.districts import DistrictPolicy, plan_districts  # noqa: E402
from allocator.synth import make_region  # noqa: E402


def main(out: str = "districts.png", schools: int = 120, seed: int = 3) -> None:
    if os.path.exists(out):  # never draw over a file that is already there
        sys.exit(f"{out} exists; give another file name")
    region = make_region(schools=schools, counties=1, seed=seed)
    plan = plan_districts(region, DistrictPolicy(method="heuristic", schools_per_district=8))
    print(plan.summary())

    county = region.counties[0]
    graph = plan.graphs[county]
    table = plan.districts.merge(region.schools[["school_id", "x", "y", "name"]], on="school_id")
    xy = table.set_index("school_id")[["x", "y"]]
    names = list(dict.fromkeys(table["district"]))
    colours = plt.get_cmap("tab20")

    fig, ax = plt.subplots(figsize=(9, 8))
    for a, b in graph.edges:
        ax.plot(*zip(xy.loc[a], xy.loc[b], strict=True), color="0.85", lw=0.6, zorder=1)
    for i, name in enumerate(names):
        sub = table[table["district"] == name]
        colour = colours(i % 20)
        size = 10 + sub["pupils"] / 15
        weak, strong = sub[~sub["strong"]], sub[sub["strong"]]
        ax.scatter(weak["x"], weak["y"], s=size[weak.index], color=colour, edgecolor="k", lw=0.3)
        ax.scatter(
            strong["x"],
            strong["y"],
            s=size[strong.index] * 2,
            color=colour,
            marker="*",
            edgecolor="k",
            lw=0.5,
            zorder=3,
        )
        row = plan.district_summary.set_index("district").loc[name]
        cx, cy = xy.loc[row["centre_school_id"]]
        ax.annotate(
            f"{name.split('-')[-1]}\nq={row['quality_mean']:.2f}",
            (cx, cy),
            fontsize=8,
            ha="center",
            va="bottom",
            xytext=(0, 6),
            textcoords="offset points",
            zorder=4,
        )
    h = plan.headline()
    ax.set_title(
        f"{len(names)} school districts, {h['schools']} schools "
        f"(quality spread {h['largest_quality_spread']:.3f}; stars: strong schools)"
    )
    ax.set_xlabel("km")
    ax.set_ylabel("km")
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        args[0] if args else "districts.png",
        int(args[1]) if len(args) > 1 else 120,
        int(args[2]) if len(args) > 2 else 3,
    )
