"""The compliance reports as PDF, printed by headless Chromium (``hipaa-catalog report --pdf``).

Chromium is ``$CHROMIUM`` or the first of ``chromium``, ``chromium-browser``, ``google-chrome`` on PATH
(``make test`` installs Debian's ``chromium`` with apt-get).  It runs with :data:`FLAGS` and a fresh,
temporary profile: headless, without the sandbox (which needs privileges a container or a root shell
does not have), GPU, QUIC, first-run pages, background networking, component updates or sync, so it reads
the report file and makes no request.  The page's print stylesheet decides the layout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from generator.errors import BuildError

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "install Chromium (Debian: apt-get install chromium; `make test` does) or set CHROMIUM to its path"


def chromium() -> str:
    """The Chromium executable, or "" when none is installed."""
    given = os.environ.get("CHROMIUM", "")
    if given:
        return shutil.which(given) or ""
    return next((found for name in NAMES if (found := shutil.which(name))), "")


def print_pdf(page: Path, pdf: Path, exe: str = "", timeout: int = 120) -> Path:
    """Print the HTML file ``page`` to ``pdf`` with headless Chromium; returns ``pdf``."""
    exe = exe or chromium()
    if not exe:
        given = os.environ.get("CHROMIUM", "")
        where = f"CHROMIUM={given} is not an executable" if given else f"none of {', '.join(NAMES)} is on PATH"
        raise BuildError(f"{page}: no PDF without Chromium: {where}", hint=INSTALL_HINT)
    pdf = Path(pdf).resolve()
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="hipaa-catalog-chromium-") as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf}", Path(page).resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"{page}: Chromium ({exe}) could not print it: {exc}", hint=INSTALL_HINT) from exc
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise BuildError(f"{page}: Chromium ({exe}) printed no PDF (exit {proc.returncode}): "
                         f"{proc.stderr.strip()[-400:]}", hint=INSTALL_HINT)
    return pdf
