"""``securehttp demo``: a self-contained walk-through against HTTPS servers on loopback.

The demo plays both sides: it runs the servers (with a throwaway CA made here) and it is the
user typing code.  The ``ssl.SSLContext`` objects it makes are the servers' and that user's;
the library's own contexts still come only from :mod:`securehttp._verification`.  Everything
runs on 127.0.0.1, finishes in seconds and stops every server before returning.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.server
import json
import logging
import socket
import ssl
import tempfile
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["run_demo"]


# --- a throwaway PKI ------------------------------------------------------------------------


class _PKI:
    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._ec, self._oid = x509, hashes, ec, NameOID
        self.now = datetime.datetime.now(datetime.timezone.utc)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securehttp demo CA")])
        self.ca_name = name
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(days=1))
            .not_valid_after(self.now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )

    def leaf(
        self, names: list[str], *, expired: bool = False, authority_key_id: bool = True
    ) -> tuple[bytes, bytes, str]:
        """(cert PEM, key PEM, its sha256/ SPKI pin).  Without ``authority_key_id`` the leaf
        fails OpenSSL's strict X.509 checks and passes without them."""
        import ipaddress

        from cryptography.hazmat.primitives import serialization

        x509 = self._x509
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        sans: list[Any] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        start = self.now - datetime.timedelta(days=30 if expired else 1)
        end = (
            self.now - datetime.timedelta(days=1)
            if expired
            else self.now + datetime.timedelta(days=2)
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(self._oid.COMMON_NAME, names[0])]))
            .issuer_name(self.ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if authority_key_id:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
        cert = builder.sign(self.ca_key, self._hashes.SHA256())
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pin = "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem, pin

    def ca_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.ca_cert.public_bytes(serialization.Encoding.PEM)


# --- servers --------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(5)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.request.close()

    def do_GET(self) -> None:
        body = f"hello from the {self.server.label} server\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext, label: str) -> None:
        self.tls, self.label = tls, label
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are the point of the demo


@contextlib.contextmanager
def _serving(directory: Path, label: str, cert: bytes, key: bytes) -> Iterator[str]:
    (directory / f"{label}.pem").write_bytes(cert)
    (directory / f"{label}.key").write_bytes(key)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(directory / f"{label}.pem", directory / f"{label}.key")
    server = _Server(tls, label)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- the walk-through -----------------------------------------------------------------------


class _Say:
    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.step_no = 0
        self.hide = ""  # the demo's temporary directory: shown as bare file names

    def title(self, text: str) -> None:
        self.write(f"{text}\n{'=' * len(text)}")

    def step(self, text: str) -> None:
        self.step_no += 1
        self.write(f"\n{self.step_no}. {text}")

    def code(self, text: str) -> None:
        self.write(
            textwrap.indent(text.strip("\n"), "  >>> ", lambda line: True).replace(">>>  ", ">>> ")
        )

    def result(self, text: str) -> None:
        if self.hide:
            text = text.replace(self.hide, "")
        self.write(textwrap.indent(str(text).strip("\n"), "      "))

    def warnings(self, caught: list[warnings.WarningMessage]) -> None:
        for warning in caught:
            self.result(f"{warning.category.__name__}: {warning.message}")

    def file(self, name: str, text: str) -> None:
        self.write(f"  {name}:")
        self.write(textwrap.indent(text.strip("\n"), "    | "))


def run_demo(write: Callable[[str], None] = print) -> int:
    import securehttp
    from securehttp import CertificateError, Client, PinMismatchError, load_policy

    say = _Say(write)
    pki = _PKI()
    today = datetime.datetime.now(datetime.timezone.utc).date()
    with (
        tempfile.TemporaryDirectory(prefix="securehttp-demo-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        directory = Path(tmp)
        say.hide = str(directory) + "/"
        ca_file = directory / "demo-ca.pem"
        ca_file.write_bytes(pki.ca_pem())
        good_cert, good_key, good_pin = pki.leaf(["127.0.0.1", "localhost"])
        good = stack.enter_context(_serving(directory, "good", good_cert, good_key))
        wrong = stack.enter_context(
            _serving(directory, "wrong-host", *pki.leaf(["wrong.example"])[:2])
        )
        expired = stack.enter_context(
            _serving(directory, "expired", *pki.leaf(["127.0.0.1"], expired=True)[:2])
        )

        def policy(name: str, text: str) -> securehttp.Policy:
            path = directory / name
            path.write_text(text, encoding="utf-8")
            path.chmod(0o600)
            say.file(name, text)
            return load_policy(path)

        say.title("securehttp demo")
        write(
            "Three HTTPS servers are running on 127.0.0.1 with certificates from a throwaway CA\n"
            f"(demo-ca.pem): good {good}, wrong-host {wrong}, expired {expired}."
        )

        say.step("Strict by default: a CA nobody configured is refused, with a hint.")
        say.code(f'securehttp.urlopen("{good}")')
        try:
            securehttp.urlopen(good)
        except CertificateError as exc:
            say.result(f"CertificateError: {exc}")

        say.step("Trust the CA for this host only, with a policy file.")
        trusting = policy(
            "trust.yaml", 'version: 1\nhosts:\n  "127.0.0.1":\n    extra_ca: [demo-ca.pem]\n'
        )
        say.code(
            'client = securehttp.Client(securehttp.load_policy("trust.yaml"))\n'
            f'client.get("{good}").read()'
        )
        with Client(trusting) as client:
            say.result(repr(client.get(good).read()))

        say.step("`securehttp explain` says what was decided and where each setting came from.")
        say.code(f'print(securehttp.load_policy("trust.yaml").resolve("{good}"))')
        say.result(str(trusting.resolve(good)))

        say.step("Trusting the CA does not make a certificate for another name pass.")
        say.code(f'client.get("{wrong}")')
        with Client(trusting) as client:
            try:
                client.get(wrong)
            except CertificateError as exc:
                say.result(f"CertificateError: {exc.verify_reason}")

        say.step(
            "An expired certificate is refused; a waiver with an end date and a reason lets it through, loudly."
        )
        port = expired.rsplit(":", 1)[1].strip("/")
        later = (today + datetime.timedelta(days=30)).isoformat()
        waived = policy(
            "waiver.yaml",
            f'version: 1\nhosts:\n  "127.0.0.1":\n    extra_ca: [demo-ca.pem]\n  "127.0.0.1:{port}":\n'
            f"    extra_ca: [demo-ca.pem]\n    verify: disabled\n    expires: {later}\n"
            '    reason: "vendor box, ticket OPS-1234"\n',
        )
        with Client(trusting) as client:
            try:
                client.get(expired)
            except CertificateError as exc:
                say.code(f'client.get("{expired}")   # with trust.yaml')
                say.result(f"CertificateError: {exc.verify_reason}")
        with Client(waived) as client, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            say.code(f'client.get("{expired}").read()   # with waiver.yaml')
            say.result(repr(client.get(expired).read()))
        say.warnings(caught)

        say.step("The same waiver after its date: it lapses and the host is strict again.")
        lapsed = policy(
            "lapsed.yaml",
            f'version: 1\nhosts:\n  "127.0.0.1:{port}":\n    extra_ca: [demo-ca.pem]\n    verify: disabled\n'
            '    expires: 2020-01-31\n    reason: "vendor box, ticket OPS-1234"\n',
        )
        with Client(lapsed) as client, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                client.get(expired)
            except CertificateError as exc:
                say.code(f'client.get("{expired}")   # with lapsed.yaml')
                say.result(f"CertificateError: {exc.verify_reason}")
        say.warnings(caught)

        say.step(
            "Report-only mode finds what would break: it connects, warns, and writes an audit event."
        )
        audit_lines: list[str] = []
        handler = _ListHandler(audit_lines)
        audit = logging.getLogger("securehttp.audit")
        audit.addHandler(handler)
        try:
            report = policy(
                "report-only.yaml",
                f'version: 1\ndefaults:\n  verify: warn\n  expires: {later}\n  reason: "rollout, ticket SEC-100"\n'
                'hosts:\n  "127.0.0.1":\n    extra_ca: [demo-ca.pem]\n',
            )
            with Client(report) as client, warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                say.code(f'client.get("{expired}").read()')
                say.result(repr(client.get(expired).read()))
        finally:
            audit.removeHandler(handler)
        for line in audit_lines:
            say.result(f"audit: {line}")

        say.step(
            "A pin is checked on top of the chain and the name: the wrong key is refused before any byte is sent."
        )
        wrong_pin = "sha256/" + base64.b64encode(hashlib.sha256(b"not the key").digest()).decode()
        pinned = policy(
            "pinned.yaml",
            f'version: 1\nhosts:\n  "127.0.0.1":\n    extra_ca: [demo-ca.pem]\n    pins: ["{wrong_pin}"]\n',
        )
        with Client(pinned) as client:
            try:
                client.get(good)
            except PinMismatchError as exc:
                say.code(f'client.get("{good}")   # with pinned.yaml')
                say.result(f"PinMismatchError: the server presented {', '.join(exc.presented)}")
        right = securehttp.Policy.from_dict(
            {"hosts": {"127.0.0.1": {"extra_ca": [str(ca_file)], "pins": [good_pin]}}}
        )
        with Client(right) as client:
            say.code(f'client.get("{good}").status   # pinned to {good_pin}')
            say.result(str(client.get(good).status))

        say.step(
            "One request can differ: an explicit ssl.SSLContext is used exactly as given (PEP 476)."
        )
        say.code(
            'ctx = ssl.create_default_context(cafile="demo-ca.pem")\n'
            f'securehttp.Client().get("{good}", context=ctx).read()'
        )
        ctx = ssl.create_default_context(cafile=str(ca_file))
        with Client() as client:
            say.result(repr(client.get(good, context=ctx).read()))

        _governed_program(say, trusting, good, wrong)

        write("\nDone: every server is stopped and the temporary files are removed.")
        write(
            "Next: README.md has the migration guide; `securehttp explain URL` shows your own setup."
        )
    return 0


def _governed_program(say: _Say, policy: Any, good: str, wrong: str) -> None:
    import urllib.error
    import urllib.request

    import securehttp

    say.step(
        "A program that never imports securehttp: install() makes urllib.request follow the policy, per host."
    )
    say.code(
        'securehttp.install(securehttp.load_policy("trust.yaml"))\n'
        f'urllib.request.urlopen("{good}").read()   # unmodified urllib code\n'
        f'urllib.request.urlopen("{wrong}")'
    )
    securehttp.install(policy)
    try:
        with urllib.request.urlopen(good, timeout=10) as response:  # noqa: S310 - loopback
            say.result(repr(response.read()))
        try:
            urllib.request.urlopen(wrong, timeout=10)  # noqa: S310 - loopback
        except urllib.error.URLError as exc:
            say.result(f"URLError: {exc.reason}")
    finally:
        securehttp.uninstall()
    say.result("(securehttp.uninstall() puts the standard library back as it was)")


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "securehttp_audit", None)
        if event is not None:
            self.lines.append(json.dumps(event))
