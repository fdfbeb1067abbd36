"""A private Dovecot IMAP server for the tests (real server, loopback only, plain-text login).

``DovecotServer.start()`` writes a minimal ``dovecot.conf`` in a temporary directory (listening
on 127.0.0.1 on a free port, so several xdist workers each run their own instance), starts
``dovecot -F -c <conf>`` as a child process and waits until it greets on its port. Accounts come
from a ``passwd-file`` with plain passwords (``new_account()`` adds one: each test gets an empty
INBOX; one passwd-file per user, since dovecot re-reads a changed file at most once a second);
mail is kept in maildirs under the temporary directory.

Messages are put in with IMAP ``APPEND`` so that they get real UIDs and an INTERNALDATE.
``set_uidvalidity()`` changes a folder's UIDVALIDITY with ``doveadm mailbox update``, as happens
when a server rebuilds its index; ``recreate_folder()`` deletes and re-creates a folder.

Dovecot is a system package: ``tests/install_system_deps.sh`` installs it (Debian: dovecot-imapd).
When it is missing or does not start, ``DovecotUnavailable`` says why; the fixture turns it into a
test failure, never a skip.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import imaplib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

INSTALL_HINT = "run tests/install_system_deps.sh (Debian/Ubuntu: apt-get install dovecot-imapd)"


class DovecotUnavailable(RuntimeError):
    pass


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dovecot_version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    try:
        major, minor = out.split()[0].split(".")[:2]
        return int(major), int(minor)
    except (IndexError, ValueError):
        return (2, 3)


@dataclass(frozen=True)
class Account:
    user: str
    password: str


CONF_TEMPLATE = """\
# Private test instance written by tests/imap_server.py.
instance_name = {instance}
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
{cleartext}
ssl = no
auth_mechanisms = plain login
first_valid_uid = {mail_uid}
last_valid_uid = 0
first_valid_gid = {mail_gid}
mail_location = maildir:{root}/mail/%u
mail_uid = {mail_uid}
mail_gid = {mail_gid}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


class DovecotServer:
    host = "127.0.0.1"

    def __init__(self) -> None:
        self.root: Path | None = None
        self.port: int = 0
        self.conf: Path | None = None
        self.process: subprocess.Popen | None = None
        self._accounts = itertools.count(1)

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self, attempts: int = 3) -> DovecotServer:
        binary = find_binary("dovecot")
        if binary is None:
            raise DovecotUnavailable(f"the dovecot binary is not installed: {INSTALL_HINT}")
        self.root = Path(tempfile.mkdtemp(prefix=f"lumiodesk-dovecot-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"))
        # Dovecot's unprivileged processes must reach base_dir and the maildirs.
        self.root.chmod(0o755)
        (self.root / "users").mkdir()  # one passwd-file per user: dovecot reads a new one at once
        (self.root / "mail").mkdir()
        mail_uid, mail_gid, internal_user, internal_group, login_user = self._identities()
        if os.geteuid() == 0:
            os.chown(self.root / "mail", mail_uid, mail_gid)
        major, minor = dovecot_version(binary)
        cleartext = "auth_allow_cleartext = yes" if (major, minor) >= (2, 4) else "disable_plaintext_auth = no"
        last_error = ""
        for _attempt in range(attempts):  # another process may grab the free port before dovecot binds it
            self.port = free_port()
            self.conf = self.root / "dovecot.conf"
            self.conf.write_text(
                CONF_TEMPLATE.format(
                    instance=f"lumiodesk-test-{self.port}",
                    root=self.root,
                    port=self.port,
                    internal_user=internal_user,
                    internal_group=internal_group,
                    login_user=login_user,
                    cleartext=cleartext,
                    mail_uid=mail_uid,
                    mail_gid=mail_gid,
                )
            )
            log = self.root / "dovecot.log"
            self.process = subprocess.Popen(
                [binary, "-F", "-c", str(self.conf)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
            atexit.register(self.stop)
            try:
                self._wait_ready(timeout=15)
                return self
            except DovecotUnavailable as exc:
                output = self._kill()
                log_text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                last_error = f"{exc}\n--- dovecot output ---\n{output}\n--- dovecot.log ---\n{log_text}"
        self.cleanup()
        raise DovecotUnavailable(f"dovecot did not start ({binary}):\n{last_error}")

    def _identities(self) -> tuple[int, int, str, str, str]:
        """(mail uid, mail gid, internal user, internal group, login user). As root: Debian's
        dovecot/dovenull users; otherwise everything runs as the current user."""
        if os.geteuid() == 0:
            try:
                internal = pwd.getpwnam("dovecot")
                login = pwd.getpwnam("dovenull")
            except KeyError as exc:
                raise DovecotUnavailable(f"the dovecot/dovenull system users are missing: {INSTALL_HINT}") from exc
            return internal.pw_uid, internal.pw_gid, internal.pw_name, _group_name(internal.pw_gid), login.pw_name
        me = pwd.getpwuid(os.geteuid())
        return me.pw_uid, me.pw_gid, me.pw_name, _group_name(me.pw_gid), me.pw_name

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DovecotUnavailable(f"dovecot exited with status {self.process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise DovecotUnavailable(f"no IMAP greeting on {self.host}:{self.port} after {timeout:.0f} s")

    def _kill(self) -> str:
        if self.process is None:
            return ""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        output = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None
        return output

    def stop(self) -> None:
        self._kill()
        self.cleanup()
        atexit.unregister(self.stop)

    def cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log" if self.root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    # --- accounts and messages -----------------------------------------------------------------------

    def new_account(self, prefix: str = "user") -> Account:
        """A new IMAP user with an empty INBOX."""
        account = Account(user=f"{prefix}{next(self._accounts)}-{os.getpid()}", password="imap-secret-1")
        (self.root / "users" / account.user).write_text(f"{account.user}:{{PLAIN}}{account.password}::::::\n")
        return account

    @contextlib.contextmanager
    def client(self, account: Account):
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(account.user, account.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, account: Account, raw: bytes, *, folder: str = "INBOX", when: datetime | None = None) -> int:
        """APPEND one message; returns its UID (from the APPENDUID response code)."""
        date = imaplib.Time2Internaldate(when or datetime.now().astimezone())
        with self.client(account) as c:
            typ, data = c.append(_quote(folder), None, date, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data!r}")
            text = (data[0] or b"").decode() if data else ""
        # "[APPENDUID <uidvalidity> <uid>] Append completed." (UIDPLUS, which dovecot has)
        if "APPENDUID" not in text:
            raise RuntimeError(f"no APPENDUID in {data!r}")
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])

    def uidvalidity(self, account: Account, folder: str = "INBOX") -> int:
        with self.client(account) as c:
            typ, data = c.status(_quote(folder), "(UIDVALIDITY)")
            if typ != "OK":
                raise RuntimeError(f"STATUS failed: {data!r}")
        return int(data[0].decode().rsplit("UIDVALIDITY", 1)[1].strip(" )"))

    def uids(self, account: Account, folder: str = "INBOX") -> list[int]:
        with self.client(account) as c:
            c.select(_quote(folder), readonly=True)
            typ, data = c.uid("SEARCH", "ALL")
        return [int(x) for x in (data[0] or b"").split()]

    def flags(self, account: Account, uid: int, folder: str = "INBOX") -> str:
        with self.client(account) as c:
            c.select(_quote(folder), readonly=True)
            typ, data = c.uid("FETCH", str(uid), "(FLAGS)")
        return data[0].decode() if data and data[0] else ""

    def create_folder(self, account: Account, folder: str) -> None:
        with self.client(account) as c:
            typ, data = c.create(_quote(folder))
            if typ != "OK":
                raise RuntimeError(f"CREATE failed: {data!r}")

    def recreate_folder(self, account: Account, folder: str) -> None:
        """DELETE and CREATE a (non-INBOX) folder: same name, new UIDVALIDITY, UIDs start again at 1."""
        with self.client(account) as c:
            c.delete(_quote(folder))
            typ, data = c.create(_quote(folder))
            if typ != "OK":
                raise RuntimeError(f"CREATE failed: {data!r}")

    def set_uidvalidity(self, account: Account, value: int, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY, keeping its messages (what an index rebuild does)."""
        doveadm = find_binary("doveadm")
        if doveadm is None:
            raise DovecotUnavailable(f"doveadm is not installed: {INSTALL_HINT}")
        result = subprocess.run(
            [
                doveadm,
                "-c",
                str(self.conf),
                "mailbox",
                "update",
                "-u",
                account.user,
                "--uid-validity",
                str(value),
                folder,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"doveadm mailbox update failed: {result.stdout}{result.stderr}")


def _quote(name: str) -> str:
    """A folder name for an IMAP command: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out, pending = [], ""
    for ch in name + "\0":
        if ch != "\0" and not 0x20 <= ord(ch) <= 0x7E:
            pending += ch
            continue
        if pending:
            out.append("&" + base64.b64encode(pending.encode("utf-16-be")).decode().rstrip("=").replace("/", ",") + "-")
            pending = ""
        if ch != "\0":
            out.append("&-" if ch == "&" else ch)
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _die_with_parent() -> None:
    """In the child: SIGTERM dovecot if the test process dies without stopping it (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
