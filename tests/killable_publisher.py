"""A publisher process for the kill-and-re-run tests: ``python tests/killable_publisher.py SETTINGS OUT [AT]``.

Publishes like ``hipaa-catalog publish`` (without the freshness check: the tests' builds are synthetic).
With ``AT``, the process exits at once (``os._exit``, as a kill would) right after the answer to a chosen
call, through a botocore ``after-call`` handler on every client the publisher creates: ``N`` is its Nth
write call, ``Operation:N`` its Nth call of that operation (e.g. ``DescribeProvisioningArtifact:2``).
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
    """Records the calls, and ends the process after the answer to the chosen call (see the module doc)."""

    def __init__(self, at: str) -> None:
        super().__init__()
        operation, _, count = at.rpartition(":")
        self.operation = operation          # "" counts every write call
        self.after = int(count)
        self.answered = 0
        self.lock = threading.Lock()

    def watch(self, c) -> None:
        super().watch(c)
        c.meta.events.register("after-call.*.*", self._after_call)

    def _after_call(self, model, **_kwargs) -> None:
        if model.name == self.operation or (not self.operation and api.is_write(model.name)):
            with self.lock:
                self.answered += 1
                if self.answered >= self.after:
                    os._exit(EXIT_CODE_KILLED)


def main(argv: list[str]) -> int:
    settings_path, out_dir, *kill = argv
    recorder = KillingRecorder(kill[0]) if kill else api.CallRecorder()
    report = publish.publish(catalog_settings.load(settings_path), out_dir=Path(out_dir), recorder=recorder,
                             check_fresh=False)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
