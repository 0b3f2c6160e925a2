"""Writes cli.md, the command line's reference, from `tfvb.cli.build_parser()` at build time.

Every command's `--help`, exactly as the terminal prints it (at 100 columns), so the page cannot
drift from the parser.
"""

import argparse
import os

import mkdocs_gen_files

from tfvb import cli

INTRO = """# Command line

`pip install` puts a `tfvb` command on the PATH (in a checkout: `.venv/bin/tfvb`, or
`python -m tfvb`). Commands that only read the zoo (`--help`, `--version`, `zoo list`,
`zoo info`) start without TensorFlow. Training, re-benchmarking and packaging an entry need a
source checkout (the recipes live in its `zoo/` folder; the data in `../shared/data` or
`$TFVB_SHARED_DATA`).

```bash
tfvb zoo list                                  # every registered entry and whether it is trained
tfvb zoo info iwae_mnist                       # its card: data, recipe, metrics, published anchors
tfvb zoo benchmark vae_mnist --limit 200       # re-measure the stored model; verdicts against its card
tfvb zoo train cvae_mnist --threads 1          # re-run the recipe (resumable: run it again after a stop)
tfvb demo --out demo                           # pictures and a report from every trained entry
```
"""


def leaves(parser, path):
    """(command path, parser) for the parser and every sub-command under it, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from leaves(sub, f"{path} {name}")


def main():
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal's width; fix it for the page
    lines = [INTRO]
    for path, parser in leaves(cli.build_parser(), "tfvb"):
        depth = min(path.count(" ") + 2, 4)
        lines += [f"{'#' * depth} `{path}`\n", "```text", parser.format_help().rstrip(), "```\n"]
    lines.append("## From Python\n\n`tfvb demo` is `tfvb.demo.run_demo`:\n")
    lines.append("::: tfvb.demo.run_demo\n    options:\n      heading_level: 3\n")
    with mkdocs_gen_files.open("cli.md", "w") as f:
        f.write("\n".join(lines))


main()
