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
    gen.add_argument("--raster", choices=("numpy", "moderngl", "auto"), default="numpy",
                     help="G-buffer rasteriser (moderngl: OpenGL via EGL, several times "
                          "faster; pixels differ only on triangle edges)")

    ret = sub.add_parser("retake", help="retake sessions: each person photographed "
                         "several times (resumable)")
    ret.add_argument("--people", type=int, required=True, help="number of sessions")
    ret.add_argument("--takes", type=int, default=3, help="photos per person")
    ret.add_argument("--seed", type=int, required=True, help="retake set seed")
    ret.add_argument("--out", type=Path, required=True, help="output folder (under data/)")
    ret.add_argument("--cameras-per-stance", type=int, default=1,
                     help="takes photographed from one posed body")
    ret.add_argument("--height", type=int, default=960, help="image height, pixels")
    ret.add_argument("--start", type=int, default=0, help="first person to make")
    ret.add_argument("--masks", action="store_true", help="also write the person masks")
    ret.add_argument("--raster", choices=("numpy", "moderngl", "auto"), default="numpy",
                     help="G-buffer rasteriser (see generate --raster)")

    front = sub.add_parser("front", help="front or back views with known pelvic obliquity, "
                           "shoulder level and head tilt (resumable)")
    front.add_argument("--n", type=int, required=True, help="number of images")
    front.add_argument("--seed", type=int, required=True, help="data set seed")
    front.add_argument("--view", choices=("front", "back"), default="front")
    front.add_argument("--out", type=Path, required=True, help="output folder (under data/)")
    front.add_argument("--size", type=_size, default=(540, 960), help="WIDTHxHEIGHT")
    front.add_argument("--start", type=int, default=0, help="first index to make")
    front.add_argument("--raster", choices=("numpy", "moderngl", "auto"), default="numpy",
                       help="G-buffer rasteriser (see generate --raster)")

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
    if getattr(args, "raster", None):
        from .raster import set_backend

        try:
            set_backend(args.raster)
        except RuntimeError as exc:
            parser.error(str(exc))
    if args.command == "generate":
        from .generate import generate

        made = generate(args.n, args.seed, args.out, workers=args.workers, size=args.size,
                        start=args.start)
        print(f"made {made} images in {args.out}")
        return 0
    if args.command == "front":
        from .frontal import generate_front

        made = generate_front(args.n, args.seed, args.out, args.view, args.size, args.start)
        print(f"made {made} {args.view} views in {args.out}")
        return 0
    if args.command == "retake":
        from .retake import generate_sessions

        if args.people < 1 or args.takes < 1 or args.cameras_per_stance < 1:
            parser.error("--people, --takes and --cameras-per-stance must be >= 1")
        timing = generate_sessions(args.people, args.takes, args.seed, args.out,
                                   args.cameras_per_stance, args.height, args.start,
                                   args.masks)
        if timing.renders:
            print(f"made {timing.renders} takes in {args.out}: "
                  f"{timing.renders / timing.total:.2f} renders per CPU-second "
                  f"(body {timing.body:.1f} s, pose {timing.pose:.1f} s, "
                  f"render {timing.render:.1f} s CPU)")
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
