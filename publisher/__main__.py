"""`python -m publisher` and the `publisher` command. `deliver` (what every sending process
runs) takes the light path of :mod:`publisher.delivery.worker`, which imports only the sending path;
everything else, and anything that path does not parse, the full Typer command line."""

from __future__ import annotations

import sys

from publisher.delivery import worker

__all__ = ["main"]


def main() -> None:
    request = worker.parse(sys.argv[1:])
    if request is not None:
        sys.exit(worker.main(request))
    from publisher.cli import main as full  # Typer, the web app, the newsroom: only when asked

    full()


if __name__ == "__main__":
    main()
