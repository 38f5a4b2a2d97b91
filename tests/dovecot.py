"""A real IMAP and POP3 server for the bounce mailbox tests: Debian's Dovecot (installed by
.ci/system-deps), started as an unprivileged process on random loopback ports, with one
passwd-file user and a Maildir, TLS from a throwaway CA (trustme). Mail is put in it with IMAP
APPEND, as another client would, so the server owns its files."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme

from tests.browser import free_port
from tests.support import wait_for

__all__ = ["DOVECOT", "Dovecot"]

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces@news.example.com", "mailbox pass/word"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Dovecot:
    """``start()`` it, ``url(...)`` names it, ``append`` puts mail in, ``count`` tells how
    much is left, ``stop()`` ends it (and it can be started again on the same ports)."""

    def __init__(self, where: Path, ca: trustme.CA) -> None:
        if not os.path.exists(DOVECOT):
            pytest.skip("Dovecot is not installed (.ci/system-deps installs it)")
        # Root runs it as nobody: Dovecot gives no mail to uid 0. A folder of its own under
        # /tmp then, since pytest's tmp_path is root's alone (mode 0700).
        self.account = pwd.getpwnam("nobody") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-")) if os.getuid() == 0 else where
        self.ports = {name: free_port() for name in ("imap", "imaps", "pop3", "pop3s")}
        self.process: subprocess.Popen[bytes] | None = None
        self._configure(ca)

    def _configure(self, ca: trustme.CA) -> None:
        root, who = self.root, self.account
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
        cert.private_key_pem.write_to_path(str(root / "key.pem"))
        (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        group = grp.getgrgid(who.pw_gid).gr_name
        listeners = "".join(
            f"service {kind}-login {{\n  chroot =\n"
            f"  inet_listener {kind} {{\n    port = {self.ports[kind]}\n  }}\n"
            f"  inet_listener {kind}s {{\n    port = {self.ports[kind + 's']}\n"
            "    ssl = yes\n  }\n}\n"
            for kind in ("imap", "pop3")
        )
        (root / "dovecot.conf").write_text(
            f"base_dir = {root}/run\nstate_dir = {root}/state\nlog_path = {root}/dovecot.log\n"
            "protocols = imap pop3\nlisten = 127.0.0.1\nssl = yes\n"
            f"ssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem\n"
            "disable_plaintext_auth = no\nauth_mechanisms = plain login\n"
            f"default_login_user = {who.pw_name}\ndefault_internal_user = {who.pw_name}\n"
            f"default_internal_group = {group}\n"
            f"mail_location = maildir:{root}/mail/%n\n"
            f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {root}/users\n}}\n"
            f"userdb {{\n  driver = static\n  args = uid={who.pw_uid} gid={who.pw_gid} "
            f"home={root}/home/%n\n}}\n"
            "service anvil {\n  chroot =\n}\n" + listeners
        )
        if os.getuid() == 0:
            for path in [root, *root.rglob("*")]:
                os.chown(path, who.pw_uid, who.pw_gid)

    def start(self) -> None:
        run_as = (
            {"user": self.account.pw_uid, "group": self.account.pw_gid} if os.getuid() == 0 else {}
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **run_as,  # type: ignore[call-overload]
        )
        wait_for(lambda: all(_listening(p) for p in self.ports.values()), "Dovecot listening")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
        wait_for(lambda: not _listening(self.ports["imap"]), "Dovecot stopped")

    def close(self) -> None:
        self.stop()
        if self.root.name.startswith("dovecot-"):
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, scheme: str, *, password: str = PASSWORD, query: str = "") -> str:
        port = self.ports[scheme]
        secret = f":{quote(password, safe='')}" if password else ""
        return f"{scheme}://{quote(USER, safe='')}{secret}@127.0.0.1:{port}{query}"

    def _client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=30)
        imap.login(USER, PASSWORD)
        return imap

    def append(self, *mails: bytes, folder: str = "INBOX") -> None:
        imap = self._client()
        try:
            for raw in mails:
                kind, said = imap.append(folder, "", None, raw)
                assert kind == "OK", said
        finally:
            imap.logout()

    def count(self, folder: str = "INBOX") -> int:
        """Mails in ``folder`` (0 when it does not exist)."""
        imap = self._client()
        try:
            kind, data = imap.select(f'"{folder}"', readonly=True)
            return int(data[0] or 0) if kind == "OK" else 0
        finally:
            imap.logout()
