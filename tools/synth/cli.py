"""Command line: ``python -m tools.synth {generate,selftest,sheet}``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("size must look like 540x960") from exc
    if w < 64 or h < 64:
        raise argparse.ArgumentTypeError("size must be at least 64x64")
    return w, h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="make a labelled data set (resumable)")
    gen.add_argument("--n", type=int, required=True, help="number of images")
    gen.add_argument("--seed", type=int, required=True, help="data set seed")
    gen.add_argument("--out", type=Path, required=True, help="output folder (under data/)")
    gen.add_argument("--workers", type=int, default=1, help="processes (one core each)")
    gen.add_argument("--size", type=_size, default=(540, 960), help="WIDTHxHEIGHT")
    gen.add_argument("--start", type=int, default=0, help="first index to make")

    sub.add_parser("selftest", help="check landmarks, 1:1 tilt and reproducibility")

    det = sub.add_parser("detect", help="MediaPipe detection rate on a folder of renders")
    det.add_argument("folder", type=Path)
    det.add_argument("--limit", type=int, default=None)

    sheet = sub.add_parser("sheet", help="contact sheet + samples/ from chosen indices")
    sheet.add_argument("--seed", type=int, required=True)
    sheet.add_argument("--indices", type=str, required=True, help="comma-separated")
    sheet.add_argument("--out", type=Path, required=True, help="PNG path")
    sheet.add_argument("--samples", type=Path, default=None,
                       help="also write the images and labels here")
    sheet.add_argument("--size", type=_size, default=(540, 960))

    args = parser.parse_args(argv)
    if args.command == "generate":
        from .generate import generate

        made = generate(args.n, args.seed, args.out, workers=args.workers, size=args.size,
                        start=args.start)
        print(f"made {made} images in {args.out}")
        return 0
    if args.command == "selftest":
        from .selftest import main as selftest_main

        return selftest_main()
    if args.command == "detect":
        from .detect_check import main as detect_main

        return detect_main(str(args.folder), args.limit)
    from .sheet import make_sheet

    indices = [int(v) for v in args.indices.split(",") if v.strip()]
    make_sheet(args.seed, indices, args.out, args.samples, args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
