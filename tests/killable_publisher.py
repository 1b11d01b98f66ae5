"""A publisher process for the kill-and-re-run tests: ``python tests/killable_publisher.py SETTINGS OUT [N]``.

Publishes like ``hipaa-catalog publish`` (without the freshness check: the tests' builds are synthetic).
With ``N``, the process exits at once (``os._exit``, as a kill would) right after the answer to its Nth
write call, through a botocore ``after-call`` handler on every client the publisher creates.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator import settings as catalog_settings  # noqa: E402
from generator.aws import api, publish  # noqa: E402

EXIT_CODE_KILLED = 137


class KillingRecorder(api.CallRecorder):
    """Records the calls, and ends the process after the answer to the ``after``-th write call."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.answered = 0
        self.lock = threading.Lock()

    def watch(self, c) -> None:
        super().watch(c)
        c.meta.events.register("after-call.*.*", self._after_call)

    def _after_call(self, model, **_kwargs) -> None:
        if api.is_write(model.name):
            with self.lock:
                self.answered += 1
                if self.answered >= self.after:
                    os._exit(EXIT_CODE_KILLED)


def main(argv: list[str]) -> int:
    settings_path, out_dir, *kill = argv
    recorder = KillingRecorder(int(kill[0])) if kill else api.CallRecorder()
    report = publish.publish(catalog_settings.load(settings_path), out_dir=Path(out_dir), recorder=recorder,
                             check_fresh=False)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
