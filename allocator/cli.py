"""The ``allocator`` command: ``synth``, ``check``, ``run`` and ``compare``.

Bad input ends with one readable line on stderr and exit status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import sys

from allocator.errors import AllocatorError, InputError

__all__ = ["main"]


def _synth(args) -> int:
    from allocator.io import save_region
    from allocator.synth import make_region

    region = make_region(schools=args.schools, counties=args.counties, seed=args.seed)
    save_region(region, args.out_dir)
    print(f"wrote {region!r} to {args.out_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allocator",
        description="Balanced allocation plans, school-merger plans and district plans for schools.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("synth", help="write a synthetic region (a folder of CSV files)")
    p.add_argument("out_dir", help="folder to write (replaced if it exists)")
    p.add_argument("--schools", type=int, default=300, help="number of schools (default 300)")
    p.add_argument(
        "--counties", type=int, default=None, help="number of counties (default: 1 per 150 schools)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
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
