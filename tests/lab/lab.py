#!/usr/bin/env python3
"""A small DNS world on loopback for the live-DNS tests (issue 30): real Knot DNS servers.

    python3 tests/lab/lab.py up DIR [--children N]    # writes DIR, starts the servers
    python3 tests/lab/lab.py down DIR                 # stops every server DIR started

The world: a root, the TLDs `lab` and `zf`, and N child zones (`c0.lab` ...), each server role
a `knotd` of its own on its own 127.53.x.y addresses, port 53:

    role       addresses                 serves
    root       127.53.0.1                .
    tld        127.53.0.2, 127.53.0.3    lab, zf           (a.nic.zf, b.nic.zf)
    provider   127.53.1.1, 127.53.1.2    every child zone  (ns1.dns.zf, ns2.dns.zf)

`DIR/hints` holds the root hints (for `zonemaster-cli --hints` and zonefeed's `--root-hints`),
and `DIR/zones/lab.zone` and `DIR/zones/zf.zone` are the TLD zones as files that zonefeed
imports like any other. `DIR/servers.json` lists each server: its role, addresses, pid and
query log. Nothing listens off 127.0.0.0/8, and `down` stops what `up` started (by the pids in
`DIR/servers.json`). Needs root (port 53) and `knotd` (Debian `knot`).

Standard library only. Faults (lame, dead, differing serials, DNSSEC breakage) come with the
test cases that look for them.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

SOA = "{mname} hostmaster.{zone} {serial} 3600 900 604800 300"
ROLES = {
    "root": ["127.53.0.1"],
    "tld": ["127.53.0.2", "127.53.0.3"],
    "provider": ["127.53.1.1", "127.53.1.2"],
}


def fqdn(name):
    return name if name.endswith(".") else name + "."


def write_zone(path, zone, lines, mname):
    """A zone file: SOA, then `lines` (owner, type, rdata), TTL 3600."""
    origin = fqdn(zone) if zone != "." else "."
    out = [f"$ORIGIN {origin}", "$TTL 3600", f"@ IN SOA {SOA.format(mname=mname, zone=origin if zone != '.' else '', serial=2026120701)}"]
    out += [f"{owner} IN {rtype} {rdata}" for owner, rtype, rdata in lines]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def world(children):
    """Every zone: name -> (role that serves it, records)."""
    tld_ns = [("a.nic.zf.", ROLES["tld"][0]), ("b.nic.zf.", ROLES["tld"][1])]
    prov_ns = [("ns1.dns.zf.", ROLES["provider"][0]), ("ns2.dns.zf.", ROLES["provider"][1])]
    zones = {}
    root = [("@", "NS", "root.zf.")]
    for tld in ("lab", "zf"):
        root += [(f"{tld}", "NS", ns) for ns, _ in tld_ns]
    # Glue for the root server and the TLD servers, in the root (they live under zf).
    root += [("root.zf.", "A", ROLES["root"][0])] + [(ns, "A", ip) for ns, ip in tld_ns]
    zones["."] = ("root", root)
    zf = [("@", "NS", ns) for ns, _ in tld_ns]
    zf += [(ns, "A", ip) for ns, ip in tld_ns] + [("root", "A", ROLES["root"][0])]
    zf += [("dns", "NS", ns) for ns, _ in prov_ns] + [(ns, "A", ip) for ns, ip in prov_ns]
    zones["zf"] = ("tld", zf)
    zones["dns.zf"] = ("provider", [("@", "NS", ns) for ns, _ in prov_ns] + [(ns.split(".")[0], "A", ip) for ns, ip in prov_ns])
    lab = [("@", "NS", ns) for ns, _ in tld_ns]
    for i in range(children):
        child = f"c{i}"
        lab += [(child, "NS", ns) for ns, _ in prov_ns]
        zones[f"{child}.lab"] = (
            "provider",
            [("@", "NS", ns) for ns, _ in prov_ns] + [("@", "A", f"192.0.2.{i % 254 + 1}"), ("www", "A", f"192.0.2.{i % 254 + 1}")],
        )
    zones["lab"] = ("tld", lab)
    return zones


def knot_conf(d, role, addrs, zones):
    run = os.path.join(d, "run", role)
    os.makedirs(run, exist_ok=True)
    listen = ", ".join(f"{a}@53" for a in addrs)
    conf = [
        "server:",
        f'    rundir: "{run}"',
        f'    pidfile: "{run}/knot.pid"',
        f"    listen: [ {listen} ]",
        "database:",
        f'    storage: "{run}/db"',
        "log:",
        "  - target: stderr",
        "    any: info",
        "template:",
        "  - id: default",
        f'    storage: "{os.path.join(d, "zones")}"',
        "    zonefile-sync: -1",
        "    zonefile-load: whole",
        "    journal-content: none",
        "zone:",
    ]
    conf += [f"  - domain: {fqdn(z) if z != '.' else '.'}\n    file: {zone_file(z)}" for z in zones]
    path = os.path.join(run, "knot.conf")
    with open(path, "w") as f:
        f.write("\n".join(conf) + "\n")
    return path


def zone_file(zone):
    return "root.zone" if zone == "." else f"{zone}.zone"


def answers(addr, name, timeout=0.2):
    """Whether `addr` answers a SOA query for `name` with NOERROR and the AA bit."""
    q = struct.pack(">HHHHHH", 0x5A17, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".") if l) + b"\0"
    q += struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (addr, 53))
        r, _ = s.recvfrom(4096)
        return len(r) >= 4 and r[:2] == q[:2] and r[3] & 0x0F == 0 and r[2] & 0x04
    except OSError:
        return False
    finally:
        s.close()


def up(d, children):
    d = os.path.abspath(d)
    os.makedirs(os.path.join(d, "zones"), exist_ok=True)
    zones = world(children)
    mname = {"root": "root.zf.", "tld": "a.nic.zf.", "provider": "ns1.dns.zf."}
    for zone, (role, lines) in zones.items():
        write_zone(os.path.join(d, "zones", zone_file(zone)), zone, lines, mname[role])
    with open(os.path.join(d, "hints"), "w") as f:
        f.write(f".\t3600000\tIN\tNS\troot.zf.\nroot.zf.\t3600000\tIN\tA\t{ROLES['root'][0]}\n")
    servers = []
    for role, addrs in ROLES.items():
        conf = knot_conf(d, role, addrs, [z for z, (r, _) in zones.items() if r == role])
        log = open(os.path.join(d, "run", role, "knotd.log"), "w")
        p = subprocess.Popen(["knotd", "-c", conf], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        servers.append({"role": role, "addresses": addrs, "pid": p.pid, "log": log.name})
    with open(os.path.join(d, "servers.json"), "w") as f:
        json.dump(servers, f, indent=1)
    # Ready when every address answers for a zone it serves.
    probes = [(ROLES["root"][0], ".")] + [(a, "lab") for a in ROLES["tld"]] + [(a, "c0.lab" if children else "dns.zf") for a in ROLES["provider"]]
    deadline = time.time() + 20
    while time.time() < deadline:
        if all(answers(a, n) for a, n in probes):
            return 0
        time.sleep(0.1)
    down(d)
    sys.exit("lab: the servers did not answer within 20 s; see " + os.path.join(d, "run", "*", "knotd.log"))


def down(d):
    path = os.path.join(d, "servers.json")
    if not os.path.exists(path):
        return 0
    for s in json.load(open(path)):
        try:
            os.killpg(s["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    for s in json.load(open(path)):
        for _ in range(100):
            try:
                os.kill(s["pid"], 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.killpg(s["pid"], signal.SIGKILL)
    os.remove(path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("up", "down"):
        sys.exit(__doc__)
    if sys.argv[1] == "up":
        n = int(sys.argv[sys.argv.index("--children") + 1]) if "--children" in sys.argv else 200
        sys.exit(up(sys.argv[2], n))
    sys.exit(down(sys.argv[2]))
