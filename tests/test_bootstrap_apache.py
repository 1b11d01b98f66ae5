"""The web server's Apache configuration and scripts, run on Debian's Apache (``apache2-bin``, which
``make test`` installs with apt-get, as it installs Graphviz).

What runs is the bootstrap's own text (``generator.blocks.bootstrap``: ``SSL_CONF``, ``SITE_CONF``,
``MAKE_CERTIFICATE``, ``DEPLOY_SITE``), adapted only where Debian differs from Amazon Linux 2023 or a test
must: paths (web root, health file, key and certificate, session cache, the pass-phrase helper), the
ports (free ones instead of 443 and 80), module names (Debian's ``mod_*.so`` files are loaded by this
test's main configuration, as AL2023's ``httpd.conf`` and ``conf.modules.d`` do), and AL2023's system
cipher profile ``PROFILE=SYSTEM`` (Fedora's crypto-policies; Debian's OpenSSL has no such profile), which
becomes OpenSSL's ``DEFAULT``.  The Fn::Sub variables of the release script are filled as CloudFormation
fills them; its CodeCommit remote is a local bare repository, and its ``git config --system`` goes to a file
of the test (``GIT_CONFIG_SYSTEM``).

Checked: HTTPS only with TLS 1.2 and 1.3 (TLS 1.1 refused), HSTS, port 80 redirecting to HTTPS, ``.git``
never served, no symbolic link followed (and committed ones checked out as plain files), the health
path answering 200 with the live commit whatever the site holds (even an empty repository), and the
release script moving to exactly the revision it is given: a commit id, a branch after a force-push,
an older commit, HEAD.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from generator.blocks import bootstrap

APACHE = shutil.which("apache2")
MODULES = Path("/usr/lib/apache2/modules")
pytestmark = pytest.mark.skipif(
    APACHE is None or not MODULES.is_dir() or shutil.which("openssl") is None or shutil.which("git") is None,
    reason="Debian's Apache (apache2-bin), openssl or git is not installed here: `make test` installs apache2-bin "
           "with apt-get and could not (see its warning)")
LOADED = ("mpm_event", "authz_core", "alias", "dir", "headers", "rewrite", "socache_shmcb", "ssl")
WEB_DIRECTORY = "clinic"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_MADE_PAIR: list[bytes] = []   # the key and certificate the module's first server made


class Server:
    """The bootstrap's files under ``root``, with the adaptations the module docstring lists."""

    def __init__(self, root: Path):
        self.root = root
        self.https, self.http = free_port(), free_port()
        self.paths = {
            bootstrap.WEB_ROOT: str(root / "html"), bootstrap.HEALTH_ROOT: str(root / "hipaa-health"),
            bootstrap.CERT_FILE: str(root / "pki/hipaa-server.crt"), bootstrap.KEY_FILE: str(root / "pki/hipaa-server.key"),
            "/usr/libexec/httpd-ssl-pass-dialog": str(root / "pass-dialog"), "/run/httpd/sslcache": str(root / "sslcache"),
        }
        for d in ("html", "hipaa-health", "pki", "logs"):
            (root / d).mkdir(mode=0o755, parents=True, exist_ok=True)
        dialog = root / "pass-dialog"  # never called: the key has no pass phrase; mod_ssl wants the file to exist
        dialog.write_text("#!/bin/sh\nexit 1\n")
        dialog.chmod(0o755)

    def adapt(self, text: str) -> str:
        for old, new in self.paths.items():
            text = text.replace(old, new)
        return (text.replace("PROFILE=SYSTEM", "DEFAULT")
                .replace("Listen 443 https", f"Listen 127.0.0.1:{self.https} https")
                .replace("<VirtualHost _default_:443>", f"<VirtualHost _default_:{self.https}>")
                .replace("<VirtualHost *:80>", f"<VirtualHost *:{self.http}>"))

    def write(self) -> Path:
        (self.root / "ssl.conf").write_text(self.adapt(bootstrap.SSL_CONF))
        (self.root / "hipaa-site.conf").write_text(self.adapt(bootstrap.SITE_CONF))
        modules = "".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so\n" for m in LOADED)
        user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
        main = self.root / "httpd.conf"
        main.write_text(  # stands in for AL2023's httpd.conf, which includes conf.d/*.conf last
            f"ServerRoot {self.root}\nPidFile {self.root}/httpd.pid\nMutex file:{self.root}\n{modules}{user}"
            f"Listen 127.0.0.1:{self.http}\nServerName localhost\nDocumentRoot {self.root}/html\n"
            "DirectoryIndex index.html\nErrorLog logs/error_log\n"
            'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined\n'
            "CustomLog logs/access_log combined\n"
            f"Include {self.root}/ssl.conf\nInclude {self.root}/hipaa-site.conf\n")
        return main

    def https_step(self) -> None:
        """The https config's commands: the certificate, the health file.  The module's first server makes its
        key and certificate (an RSA 3072 key: about half a second of CPU); the next ones start with a copy of
        that pair, and their script keeps it, as it does on an instance whose pair is there already."""
        key, crt = Path(self.paths[bootstrap.KEY_FILE]), Path(self.paths[bootstrap.CERT_FILE])
        for path, made in zip((key, crt), _MADE_PAIR):
            path.write_bytes(made)
        script = self.root / "make-certificate"
        script.write_text(self.adapt(bootstrap.MAKE_CERTIFICATE))
        subprocess.run(["bash", str(script)], check=True, capture_output=True, timeout=120)
        if _MADE_PAIR:
            assert [key.read_bytes(), crt.read_bytes()] == _MADE_PAIR, "the script replaced a pair that was there"
        else:
            assert key.stat().st_mode & 0o777 == 0o600 and b"PRIVATE KEY" in key.read_bytes()
            _MADE_PAIR.extend([key.read_bytes(), crt.read_bytes()])
        subprocess.run(["bash", "-c", self.adapt(bootstrap.HEALTH_INIT)], check=True, timeout=60)
        os.chmod(self.paths[bootstrap.KEY_FILE], 0o644 if os.geteuid() == 0 else 0o600)  # read by www-data here

    def deploy(self, repo: str, revision: str) -> subprocess.CompletedProcess:
        """The release script, its Fn::Sub variables filled as CloudFormation fills them."""
        text = self.adapt(bootstrap.DEPLOY_SITE)
        for name, value in (("CodeCommitRepo", repo), ("WebDirectory", WEB_DIRECTORY), ("Revision", revision)):
            text = text.replace("${" + name + "}", value)
        script = self.root / "deploy-site"
        script.write_text(text)
        env = dict(os.environ, GIT_CONFIG_SYSTEM=str(self.root / "gitconfig-system"),
                   GIT_CONFIG_GLOBAL=str(self.root / "gitconfig-global"))
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=120)
        for path in (self.root / "html").rglob("*"):  # what Apache (www-data) must read
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o644)
        return done

    def get(self, path: str, *, port: int | None = None, tls: bool = True) -> tuple[int, dict, str]:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # its own self-signed certificate
            conn = http.client.HTTPSConnection("127.0.0.1", port or self.https, context=context, timeout=10)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port or self.http, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        finally:
            conn.close()


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=dev@example.org", "-c", "user.name=dev", *args], cwd=cwd,
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def commit(work: Path, page: str, **files: str) -> str:
    (work / "index.html").write_text(page)
    for name, content in files.items():
        (work / name).write_text(content)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", page)
    return git(work, "rev-parse", "HEAD")


@pytest.fixture
def world():
    """A directory every user can read (Apache drops to www-data when the tests run as root)."""
    root = Path(tempfile.mkdtemp(prefix="hipaa-apache-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# Apache's error log line once it has bound its ports and started its children (mpm_event's AH00489)
APACHE_READY = "resuming normal operations"


def start_apache(server: Server) -> subprocess.Popen | None:
    """Apache running ``server``'s configuration, once its error log says it is serving; None when one of its
    ports was taken in the meantime (the ports are picked free, then bound by Apache seconds later)."""
    main = server.write()
    server.https_step()
    checked = subprocess.run([APACHE, "-t", "-f", str(main)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([APACHE, "-f", str(main), "-DFOREGROUND"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    log = server.root / "logs" / "error_log"
    deadline = time.monotonic() + 20
    while not (log.is_file() and APACHE_READY in log.read_text(errors="replace")):
        if process.poll() is not None:
            err = process.stderr.read().decode() + (log.read_text(errors="replace") if log.is_file() else "")
            process.stderr.close()
            assert "Address already in use" in err, err
            return None
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            process.stderr.close()
            raise AssertionError(f"Apache did not start within 20 s: {log.read_text() if log.is_file() else ''}")
        time.sleep(0.05)
    return process


@pytest.fixture
def apache(world):
    """The adapted bootstrap configuration, running (stopped at the end, by its process id)."""
    for attempt in range(3):
        server = Server(world / f"server{attempt}")
        process = start_apache(server)
        if process is not None:
            break
    else:
        raise AssertionError("Apache found one of its ports taken three times")
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.stderr.close()


@pytest.fixture
def remote(world):
    """The site's repository (a bare one, with main as its default branch) and a clone to commit in."""
    bare = world / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True, timeout=60)
    work = world / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True, timeout=60)
    git(work, "checkout", "-q", "-b", "main")
    return bare, work


def handshake(server: Server, version: ssl.TLSVersion) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old versions: the server must refuse
    context.minimum_version = context.maximum_version = version
    try:
        with socket.create_connection(("127.0.0.1", server.https), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost"):
                return True
    except (ssl.SSLError, ConnectionResetError):
        return False


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # offered on purpose, to be refused
def test_https_only_tls12_and_13_hsts_and_the_redirect(apache):
    assert handshake(apache, ssl.TLSVersion.TLSv1_2) and handshake(apache, ssl.TLSVersion.TLSv1_3)
    assert not handshake(apache, ssl.TLSVersion.TLSv1_1) and not handshake(apache, ssl.TLSVersion.TLSv1)
    status, headers, body = apache.get(bootstrap.HEALTH_PATH)
    assert (status, body) == (200, "ok: no revision deployed yet\n")
    assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert headers["server"] == "Apache" and headers["x-content-type-options"] == "nosniff"  # ServerTokens Prod
    status, headers, _ = apache.get(f"/{WEB_DIRECTORY}/?x=1", tls=False)
    assert status == 301 and headers["location"].startswith("https://") and headers["location"].endswith(
        f"/{WEB_DIRECTORY}/?x=1")


def test_the_site_without_git_nor_symlinks_and_the_health_path_naming_the_live_commit(apache, remote):
    bare, work = remote
    (work / "passwd.txt").symlink_to("/etc/passwd")  # a committed symbolic link out of the site
    first = commit(work, "<h1>first</h1>")
    git(work, "push", "-q", "origin", "main")
    done = apache.deploy(str(bare), "HEAD")
    assert done.returncode == 0, done.stderr
    site = Path(apache.paths[bootstrap.WEB_ROOT]) / WEB_DIRECTORY
    assert (site / "passwd.txt").is_file() and not (site / "passwd.txt").is_symlink()  # core.symlinks=false
    assert apache.get(f"/{WEB_DIRECTORY}/")[::2] == (200, "<h1>first</h1>")
    assert apache.get(bootstrap.HEALTH_PATH)[::2] == (200, f"ok: revision {first}\n")
    status, _, body = apache.get(f"/{WEB_DIRECTORY}/passwd.txt")
    assert status == 200 and body == "/etc/passwd" and "root:" not in body  # the link's text, not the file
    for path in (f"/{WEB_DIRECTORY}/.git/config", f"/{WEB_DIRECTORY}/.git/HEAD", f"/{WEB_DIRECTORY}/.git/"):
        assert apache.get(path)[0] == 404, path
    # a symbolic link that is there anyway (made on the server): Options None follows none
    (site / "leak").symlink_to("/etc/passwd")
    (site / "inside").symlink_to(site / "index.html")
    assert apache.get(f"/{WEB_DIRECTORY}/leak")[0] == 403
    assert apache.get(f"/{WEB_DIRECTORY}/inside")[0] == 403
    assert apache.get(f"/{WEB_DIRECTORY}/missing.html")[0] == 404


def test_the_release_script_moves_to_exactly_the_given_revision_force_pushes_included(apache, remote):
    bare, work = remote
    first = commit(work, "<h1>first</h1>", **{"about.html": "about"})
    git(work, "push", "-q", "origin", "main")
    assert apache.deploy(str(bare), first).returncode == 0
    second = commit(work, "<h1>second</h1>")
    git(work, "push", "-q", "origin", "main")
    assert apache.deploy(str(bare), second).returncode == 0
    assert apache.get(f"/{WEB_DIRECTORY}/")[2] == "<h1>second</h1>"
    assert apache.get(bootstrap.HEALTH_PATH)[2] == f"ok: revision {second}\n"

    # main rewritten and force-pushed: `second` is on no branch any more; a fast-forward pull would fail
    git(work, "reset", "-q", "--hard", first)
    (work / "about.html").unlink()
    third = commit(work, "<h1>third</h1>")
    git(work, "push", "-q", "--force", "origin", "main")
    done = apache.deploy(str(bare), "main")
    assert done.returncode == 0, done.stderr
    assert apache.get(f"/{WEB_DIRECTORY}/")[2] == "<h1>third</h1>"
    assert apache.get(f"/{WEB_DIRECTORY}/about.html")[0] == 404  # nothing of the old checkout is left
    assert apache.get(bootstrap.HEALTH_PATH)[2] == f"ok: revision {third}\n"
    # back to an older commit, then to HEAD (the default branch)
    assert apache.deploy(str(bare), first).returncode == 0
    assert apache.get(f"/{WEB_DIRECTORY}/")[2] == "<h1>first</h1>"
    assert apache.deploy(str(bare), "HEAD").returncode == 0
    assert apache.get(bootstrap.HEALTH_PATH)[2] == f"ok: revision {third}\n"
    # what the repository does not have is refused, and the site stays as it is
    for revision in ("no-such-branch", "0" * 40):
        done = apache.deploy(str(bare), revision)
        assert done.returncode == 1 and re.search(r"hipaa-deploy-site: (no branch or commit|commit)", done.stderr)
    assert apache.get(bootstrap.HEALTH_PATH)[2] == f"ok: revision {third}\n"


def test_an_empty_repository_leaves_the_server_healthy(apache, world):
    empty = world / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(empty)], check=True, timeout=60)
    done = apache.deploy(str(empty), "HEAD")
    assert done.returncode == 0, done.stderr
    assert apache.get(bootstrap.HEALTH_PATH)[::2] == (200, "ok: the repository is empty\n")
    assert apache.get(f"/{WEB_DIRECTORY}/")[0] in (403, 404)  # nothing to serve; the target stays healthy
