"""Entry script of the frozen ``distilpose-studio`` (PyInstaller runs this file, not the console script).

One executable has to serve three callers: the user (the GUI, same arguments as ``distilpose-studio``), the job
manager (``--run-train ...``: it re-invokes ``sys.executable`` because a frozen app has no ``python -m``;
handled by :func:`distilpose.app.main.main`), and the user who needs the command line without Python
(``--cli ...`` = ``distilpose ...``, e.g. ``--cli models fetch all``).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence

#: ``distilpose-studio --cli ARGS`` runs ``distilpose ARGS``.
CLI_FLAG = "--cli"


def run(argv: Sequence[str]) -> int:
    """Dispatch to the ``distilpose`` CLI or the app (which itself handles the job manager's flag)."""
    argv = list(argv)
    if argv[:1] == [CLI_FLAG]:
        from distilpose.cli import main as cli_main

        return cli_main(argv[1:])
    from distilpose.app.main import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    # A frozen child started with the spawn/forkserver method (a DataLoader asked for it) must run the
    # worker, not a second app: freeze_support() does that and returns at once in the parent.
    multiprocessing.freeze_support()
    sys.exit(run(sys.argv[1:]))
