"""Print the effective configuration after defaults, config file, environment and flags."""

from __future__ import annotations

from migtool import output


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args, config) -> int:
    data = config.public_dict()
    if args.json:
        output.print_json(data)
        return 0
    console = output.out()
    for key, value in data.items():
        console.print(f"{key}: {value}", markup=False)
    return 0
