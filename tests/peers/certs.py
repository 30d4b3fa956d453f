"""Make a throw-away CA and a server certificate signed by it, with the `openssl` command line
(Debian's openssl), for the TLS tests: the server certificate names `names` (DNS names and IP
addresses as subjectAltName), so a client that checks host names accepts it for exactly those.

    ca, cert, key = make_certs(str(tmp_path), names=("localhost", "127.0.0.1"))
"""

import ipaddress
import os
import shutil
import subprocess


def available() -> bool:
    return shutil.which("openssl") is not None


def _run(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr[-600:]))


def make_certs(workdir: str, names=("localhost", "127.0.0.1"), ca_name="tipring test CA", tag="server"):
    """(ca.pem, server cert.pem, server key.pem) in `workdir`; EC P-256 keys, valid two days."""
    os.makedirs(workdir, exist_ok=True)
    ca_key, ca_pem = "%s-ca.key" % tag, "%s-ca.pem" % tag
    key, csr, pem = "%s.key" % tag, "%s.csr" % tag, "%s.pem" % tag
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(["req", "-x509"] + ec + ["-keyout", ca_key, "-out", ca_pem, "-days", "2", "-subj", "/CN=%s" % ca_name,
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
         workdir)
    _run(["req"] + ec + ["-keyout", key, "-out", csr, "-subj", "/CN=%s" % names[0]], workdir)
    sans = []
    for n in names:
        try:
            ipaddress.ip_address(n)
            sans.append("IP:%s" % n)
        except ValueError:
            sans.append("DNS:%s" % n)
    ext = os.path.join(workdir, "%s.ext" % tag)
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n" % ",".join(sans))
    _run(["x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", pem,
          "-days", "2", "-extfile", ext], workdir)
    return tuple(os.path.join(workdir, f) for f in (ca_pem, pem, key))
