"""The ``allocator`` command: ``synth``, ``check``, ``run``, ``compare`` and ``import-gis``.

Bad input ends with one readable line on stderr and exit status 2 (no traceback); so does an output
folder that may not be replaced (see :mod:`allocator.outputs`: a folder allocator did not write is
never replaced, one it wrote only when unchanged or with ``--force``).
"""

from __future__ import annotations

import argparse
import sys

from allocator.errors import AllocatorError, InputError

__all__ = ["main"]


def _synth(args) -> int:
    from allocator.io import save_region
    from allocator.outputs import check_target
    from allocator.synth import make_region

    check_target(args.out_dir, "region", force=args.force)  # before the work, not after
    region = make_region(schools=args.schools, counties=args.counties, seed=args.seed)
    save_region(region, args.out_dir, force=args.force)
    print(f"wrote {region!r} to {args.out_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allocator",
        description="Balanced allocation plans, school-merger plans and district plans for schools.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("synth", help="write a synthetic region (a folder of CSV files)")
    p.add_argument(
        "out_dir",
        help="folder to write; an earlier, unchanged region written by allocator there is replaced",
    )
    p.add_argument("--schools", type=int, default=300, help="number of schools (default 300)")
    p.add_argument(
        "--counties", type=int, default=None, help="number of counties (default: 1 per 150 schools)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--force",
        action="store_true",
        help="also replace a folder allocator wrote that was changed since, or that another "
        "command wrote (never a folder allocator did not write)",
    )
    p.set_defaults(func=_synth)
    from allocator.check import add_check_parser

    add_check_parser(sub)
    from allocator.runner import add_run_commands

    add_run_commands(sub)
    from allocator.gis.command import add_import_gis_parser

    add_import_gis_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (InputError, ValueError) as exc:
        print(f"allocator {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except AllocatorError as exc:
        print(f"allocator {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("allocator: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
