#!/usr/bin/env python3
"""A small DNS world on loopback for the live-DNS tests (issue 30): real DNS servers.

    python3 tests/lab/lab.py up DIR [--children N]    # writes DIR, starts the servers
    python3 tests/lab/lab.py down DIR                 # stops every server DIR started
    python3 tests/lab/lab.py day DIR K                # the TLD `lab` as on day K (DAYS)
    python3 tests/lab/lab.py reload DIR ROLE ZONE     # after editing DIR/zones/ROLE/ZONE.zone

The world: a root, the TLDs `lab` and `zf`, N healthy child zones (`c0.lab` ...) and one
child per fault (FAULTS below), each server role a process of its own on its own 127.53.x.y
addresses, port 53:

    role       addresses                 server   serves
    root       127.53.0.1                knotd    .
    tld        127.53.0.2, 127.53.0.3    knotd    lab, zf  (a.nic.zf, b.nic.zf)
    provider   127.53.1.1, 127.53.1.2    knotd    the children, dns.zf (ns1.dns.zf, ns2.dns.zf)
    alt        127.53.2.1                knotd    other copies of some children (ns3.dns.zf)
    recursor   127.53.3.1                unbound  an open resolver (rec.dns.zf)
    noedns     127.53.4.1                odd.py   drops EDNS questions (odd1.dns.zf)
    notcp      127.53.4.2                odd.py   UDP only (odd2.dns.zf)
    (dead)     127.53.9.9                nothing  (dead.dns.zf)

`DIR/hints` holds the root hints (for `zonemaster-cli --hints` and zonefeed's `--root-hints`),
and `DIR/zones/lab.zone` and `DIR/zones/zf.zone` are the TLD zones as files that zonefeed
imports like any other. `DIR/servers.json` lists each server: its role, addresses, pid and log;
`DIR/faults.json` each faulty child and what is wrong with it. Nothing listens off
127.0.0.0/8, and `down` stops what `up` started (by the pids in `DIR/servers.json`). Needs root
(port 53), `knotd` (Debian `knot`), `unbound` and `ldns-keygen`/`ldns-signzone` (Debian
`ldnsutils`), which sign the DNSSEC children. Standard library only.
"""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

SOA = "{mname} hostmaster.{zone} {serial} {timers}"
TIMERS = "3600 900 604800 300"
SERIAL = 2026120701
ROLES = {
    "root": ["127.53.0.1"],
    "tld": ["127.53.0.2", "127.53.0.3"],
    "provider": ["127.53.1.1", "127.53.1.2"],
    # A second provider that serves some zones differently, and none of others (lame).
    "alt": ["127.53.2.1"],
    # Debian's unbound: an open recursive resolver that also serves one zone.
    "recursor": ["127.53.3.1"],
    # tests/lab/odd.py: drops questions with EDNS; answers over UDP only.
    "noedns": ["127.53.4.1"],
    "notcp": ["127.53.4.2"],
}
# Nothing listens here: a dead server.
DEAD = "127.53.9.9"

# The faulty children of `lab`: name -> what is wrong (tests/it/lab.rs checks the tag each
# raises).
FAULTS = {
    "lame": "ns3.dns.zf does not serve the zone (REFUSED)",
    "dead": "dead.dns.zf has no server (timeout)",
    "serial": "ns3.dns.zf serves another SOA serial",
    "nsset": "the child lists ns3.dns.zf, the parent does not",
    "glue": "the parent's glue for ns.glue.lab differs from the child's address",
    "cname": "alias.dns.zf is a CNAME",
    "onens": "one name server only",
    "sameip": "ns1.dns.zf and ns1b.dns.zf share an address",
    "recursor": "rec.dns.zf is an open resolver",
    "axfr": "AXFR allowed to anyone",
    "noedns": "odd1.dns.zf drops EDNS questions",
    "notcp": "odd2.dns.zf does not answer over TCP",
    "timers": "SOA timers out of range; an MX whose target is a CNAME",
    "mname": "the SOA MNAME has no address",
    "badds": "signed; the parent's DS matches no DNSKEY",
    "nods": "signed; no DS at the parent",
    "expired": "signed; every signature expired",
    "nsec3": "signed with NSEC3 of 200 iterations",
    "dsonly": "a DS at the parent; the zone is not signed",
}
# What the days after the first do to `lab`'s delegations (issue 31's daily run): child ->
# its NS set at the parent, from that day on, until a later day changes it again. The
# healthy children c0, c1 and c2 break and are fixed; tests/it/lab.rs expects an event for
# each change of worst level across ERROR.
BOTH = ["ns1.dns.zf.", "ns2.dns.zf."]
DAYS = {
    1: {"c0": ["ns1.dns.zf.", "ns3.dns.zf."], "c1": ["ns1.dns.zf."]},  # lame; one name server
    2: {"c0": BOTH, "c2": ["alias.dns.zf.", "ns2.dns.zf."]},  # fixed; an NS that is a CNAME
}

# How each signed child is signed (ldns-signzone) and what its parent holds: the DS of its
# key ("good"), a DS whose digest is wrong ("bad") or none. `signed.lab` is the healthy one.
SIGNED = {
    "signed": {"ds": "good", "sign": []},
    "badds": {"ds": "bad", "sign": []},
    "nods": {"ds": None, "sign": []},
    "expired": {"ds": "good", "sign": ["-i", "20190101000000", "-e", "20200101000000"]},
    "nsec3": {"ds": "good", "sign": ["-n", "-t", "200", "-s", "abcd"]},
    "dsonly": {"ds": "good", "sign": None},
}


def fqdn(name):
    return name if name.endswith(".") else name + "."


def write_zone(path, zone, lines, mname, serial=SERIAL, timers=TIMERS):
    """A zone file: SOA, then `lines` (owner, type, rdata), TTL 3600."""
    origin = fqdn(zone) if zone != "." else "."
    soa = SOA.format(mname=mname, zone=origin if zone != "." else "", serial=serial, timers=timers)
    out = [f"$ORIGIN {origin}", "$TTL 3600", f"@ IN SOA {soa}"]
    out += [f"{owner} IN {rtype} {rdata}" for owner, rtype, rdata in lines]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_odd_zone(path, zone, lines, mname):
    """The same records as absolute `owner TTL IN TYPE rdata` lines, for odd.py."""
    out = [f"{zone}. 3600 IN SOA {SOA.format(mname=mname, zone=zone + '.', serial=SERIAL, timers=TIMERS)}"]
    for owner, rtype, rdata in lines:
        name = zone if owner == "@" else (owner.rstrip(".") if owner.endswith(".") else f"{owner}.{zone}")
        out.append(f"{name}. 3600 IN {rtype} {rdata}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def world(children):
    """Every zone: name -> [(role that serves it, records, SOA changes)], one entry per
    server role serving it (most zones have one)."""
    tld_ns = [("a.nic.zf.", ROLES["tld"][0]), ("b.nic.zf.", ROLES["tld"][1])]
    prov_ns = [("ns1.dns.zf.", ROLES["provider"][0]), ("ns2.dns.zf.", ROLES["provider"][1])]
    zones = {}
    root = [("@", "NS", "root.zf.")]
    for tld in ("lab", "zf"):
        root += [(f"{tld}", "NS", ns) for ns, _ in tld_ns]
    # Glue for the root server and the TLD servers, in the root (they live under zf).
    root += [("root.zf.", "A", ROLES["root"][0])] + [(ns, "A", ip) for ns, ip in tld_ns]
    zones["."] = [("root", root, {})]
    zf = [("@", "NS", ns) for ns, _ in tld_ns]
    zf += [(ns, "A", ip) for ns, ip in tld_ns] + [("root", "A", ROLES["root"][0])]
    zf += [("dns", "NS", ns) for ns, _ in prov_ns] + [(ns, "A", ip) for ns, ip in prov_ns]
    zones["zf"] = [("tld", zf, {})]
    dns = [("@", "NS", ns) for ns, _ in prov_ns] + [(ns.split(".")[0], "A", ip) for ns, ip in prov_ns]
    dns += [("ns3", "A", ROLES["alt"][0]), ("dead", "A", DEAD), ("alias", "CNAME", "ns1"), ("ns1b", "A", ROLES["provider"][0])]
    dns += [("rec", "A", ROLES["recursor"][0]), ("odd1", "A", ROLES["noedns"][0]), ("odd2", "A", ROLES["notcp"][0])]
    dns += [("mail", "A", "192.0.2.25"), ("mx-alias", "CNAME", "mail")]
    zones["dns.zf"] = [("provider", dns, {})]
    lab = [("@", "NS", ns) for ns, _ in tld_ns]

    def child(name, parent_ns, child_ns=None, extra=(), roles=("provider",), soa=None, glue=()):
        lab.extend((name, "NS", ns) for ns in parent_ns)
        lab.extend(glue)
        records = [("@", "NS", ns) for ns in (child_ns or parent_ns)] + list(extra)
        zones[f"{name}.lab"] = [(r, records, (soa or {}).get(r, {})) for r in roles]

    both = ["ns1.dns.zf.", "ns2.dns.zf."]
    for i in range(children):
        web = f"192.0.2.{i % 254 + 1}"
        child(f"c{i}", both, extra=[("@", "A", web), ("www", "A", web)])
    child("lame", ["ns1.dns.zf.", "ns3.dns.zf."])
    child("dead", ["ns1.dns.zf.", "dead.dns.zf."])
    child("serial", ["ns1.dns.zf.", "ns3.dns.zf."], roles=("provider", "alt"), soa={"alt": {"serial": SERIAL + 98}})
    child("nsset", both, child_ns=both + ["ns3.dns.zf."], roles=("provider", "alt"))
    child("glue", ["ns.glue.lab.", "ns2.dns.zf."], extra=[("ns", "A", ROLES["provider"][1])], glue=[("ns.glue", "A", ROLES["provider"][0])])
    child("cname", ["alias.dns.zf.", "ns2.dns.zf."])
    child("onens", ["ns1.dns.zf."])
    child("sameip", ["ns1.dns.zf.", "ns1b.dns.zf."])
    child("recursor", ["ns1.dns.zf.", "rec.dns.zf."], roles=("provider", "recursor"))
    child("axfr", both)
    child("noedns", ["ns1.dns.zf.", "odd1.dns.zf."], roles=("provider", "noedns"))
    child("notcp", ["ns1.dns.zf.", "odd2.dns.zf."], roles=("provider", "notcp"))
    child("timers", both, extra=[("@", "MX", "10 mx-alias.dns.zf.")], soa={"provider": {"timers": "300 600 100 100000"}})
    child("mname", both, soa={"provider": {"mname": "nowhere.dns.zf."}})
    for name in SIGNED:
        child(name, both)
    zones["lab"] = [("tld", lab, {})]
    return zones


def sign(d, zone, how):
    """Signs the provider's copy of `zone` with a fresh KSK and ZSK (ECDSA P-256) as `how`
    says, and returns the DS lines its parent should hold."""
    keys = os.path.join(d, "keys", zone)
    os.makedirs(keys, exist_ok=True)
    gen = lambda *a: subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", *a, zone + "."], cwd=keys, check=True, capture_output=True, text=True).stdout.strip()
    ksk, zsk = gen("-k"), gen()
    path = os.path.join(d, "zones", "provider", zone_file(zone))
    if how["sign"] is not None:
        subprocess.run(["ldns-signzone", *how["sign"], "-f", path + ".signed", path, os.path.join(keys, ksk), os.path.join(keys, zsk)], check=True, capture_output=True)
        os.replace(path + ".signed", path)
    if not how["ds"]:
        return []
    ds = subprocess.run(["ldns-key2ds", "-n", "-2", os.path.join(keys, ksk + ".key")], check=True, capture_output=True, text=True).stdout.split()
    # owner TTL IN DS keytag algorithm type digest
    owner, digest = ds[0], ds[-1]
    if how["ds"] == "bad":
        digest = digest[:-4] + ("0000" if not digest.endswith("0000") else "1111")
    return [(owner, "DS", " ".join(ds[4:-1] + [digest]))]


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
        "acl:",
        "  - id: transfer_to_anyone",
        "    address: 127.0.0.0/8",
        "    action: transfer",
        "template:",
        "  - id: default",
        f'    storage: "{os.path.join(d, "zones", role)}"',
        "    zonefile-sync: -1",
        "    zonefile-load: whole",
        "    journal-content: none",
        "zone:",
    ]
    for z in zones:
        conf.append(f"  - domain: {fqdn(z) if z != '.' else '.'}\n    file: {zone_file(z)}")
        if z == "axfr.lab":
            conf.append("    acl: transfer_to_anyone")
    path = os.path.join(run, "knot.conf")
    with open(path, "w") as f:
        f.write("\n".join(conf) + "\n")
    return path


def unbound_conf(d, addrs, zones):
    """An open resolver that follows the lab's root and serves `zones` itself."""
    run = os.path.join(d, "run", "recursor")
    os.makedirs(run, exist_ok=True)
    conf = ["server:"]
    conf += [f"    interface: {a}" for a in addrs]
    conf += [
        "    port: 53",
        f'    directory: "{run}"',
        '    chroot: ""',
        '    username: ""',
        '    pidfile: ""',
        "    use-syslog: no",
        "    do-daemonize: no",
        "    do-ip6: no",
        "    do-not-query-localhost: no",
        "    access-control: 127.0.0.0/8 allow",
        f'    root-hints: "{os.path.join(d, "hints")}"',
        "    module-config: iterator",
        "    verbosity: 1",
        "remote-control:",
        "    control-enable: no",
    ]
    for z in zones:
        conf += ["auth-zone:", f"    name: {z}", f'    zonefile: "{os.path.join(d, "zones", "recursor", zone_file(z))}"', "    for-downstream: yes", "    for-upstream: no"]
    path = os.path.join(run, "unbound.conf")
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
    zones = world(children)
    mname = {"root": "root.zf.", "tld": "a.nic.zf.", "provider": "ns1.dns.zf.", "alt": "ns1.dns.zf.", "recursor": "ns1.dns.zf."}
    served = {role: [] for role in ROLES}
    # The signed children first: their DS go into `lab` before it is written.
    lab_lines = zones["lab"][0][1]
    for name, how in SIGNED.items():
        zone = f"{name}.lab"
        role, lines, soa = zones[zone][0]
        write_zone(os.path.join(d, "zones", role, zone_file(zone)), zone, lines, mname[role])
        lab_lines.extend(sign(d, zone, how))
    for zone, variants in zones.items():
        for role, lines, soa in variants:
            if zone.removesuffix(".lab") in SIGNED:
                served[role].append(zone)
                continue
            served[role].append(zone)
            path = os.path.join(d, "zones", role, zone_file(zone))
            if role in ("noedns", "notcp"):
                write_odd_zone(path, zone, lines, "ns1.dns.zf.")
            else:
                write_zone(path, zone, lines, soa.get("mname", mname[role]), soa.get("serial", SERIAL), soa.get("timers", TIMERS))
    # The TLD zones as files to import; day 0's `lab` kept for the days after.
    for tld in ("lab", "zf"):
        shutil.copy(os.path.join(d, "zones", "tld", zone_file(tld)), os.path.join(d, "zones", zone_file(tld)))
    shutil.copy(os.path.join(d, "zones", "tld", "lab.zone"), os.path.join(d, "zones", "lab.day0.zone"))
    with open(os.path.join(d, "hints"), "w") as f:
        f.write(f".\t3600000\tIN\tNS\troot.zf.\nroot.zf.\t3600000\tIN\tA\t{ROLES['root'][0]}\n")
    servers = []
    here = os.path.dirname(os.path.abspath(__file__))
    for role, addrs in ROLES.items():
        os.makedirs(os.path.join(d, "run", role), exist_ok=True)
        if role == "recursor":
            cmd = ["unbound", "-d", "-c", unbound_conf(d, addrs, served[role])]
        elif role in ("noedns", "notcp"):
            (zone,) = served[role]
            cmd = [sys.executable, os.path.join(here, "odd.py"), addrs[0], role, zone, os.path.join(d, "zones", role, zone_file(zone))]
        else:
            cmd = ["knotd", "-c", knot_conf(d, role, addrs, served[role])]
        log = open(os.path.join(d, "run", role, "server.log"), "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        servers.append({"role": role, "addresses": addrs, "pid": p.pid, "log": log.name})
    with open(os.path.join(d, "servers.json"), "w") as f:
        json.dump(servers, f, indent=1)
    with open(os.path.join(d, "faults.json"), "w") as f:
        json.dump({f"{k}.lab": v for k, v in FAULTS.items()}, f, indent=1)
    # Ready when every address answers for a zone it serves.
    probes = [(ROLES["root"][0], ".")] + [(a, "lab") for a in ROLES["tld"]]
    probes += [(a, "dns.zf") for a in ROLES["provider"]] + [(ROLES["alt"][0], "serial.lab"), (ROLES["recursor"][0], "recursor.lab")]
    probes += [(ROLES["noedns"][0], "noedns.lab"), (ROLES["notcp"][0], "notcp.lab")]
    deadline = time.time() + 20
    while time.time() < deadline:
        if all(answers(a, n) for a, n in probes):
            return 0
        time.sleep(0.1)
    down(d)
    sys.exit("lab: the servers did not answer within 20 s; see " + os.path.join(d, "run", "*", "server.log"))


def day(d, k):
    """Rewrites `lab` as it is on day `k` (DAYS, applied in order, serial + k), for the TLD
    servers and as the file to import, and has them load it."""
    d = os.path.abspath(d)
    ns = {}
    for i in range(1, k + 1):
        ns.update(DAYS.get(i, {}))
    lines = []
    with open(os.path.join(d, "zones", "lab.day0.zone")) as f:
        for line in f.read().splitlines():
            owner = line.split(" ", 1)[0]
            if owner in ns and line.split()[2:3] == ["NS"]:
                continue
            lines.append(line.replace(f" {SERIAL} ", f" {SERIAL + k} ") if " SOA " in line else line)
    lines += [f"{child} IN NS {target}" for child, targets in sorted(ns.items()) for target in targets]
    for path in (os.path.join(d, "zones", "tld", "lab.zone"), os.path.join(d, "zones", "lab.zone")):
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
    (tld,) = [s for s in json.load(open(os.path.join(d, "servers.json"))) if s["role"] == "tld"]
    conf = os.path.join(d, "run", "tld", "knot.conf")
    subprocess.run(["knotc", "-c", conf, "zone-reload", "lab."], check=True, capture_output=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        if all(serial(a, "lab") == SERIAL + k for a in tld["addresses"]):
            return 0
        time.sleep(0.05)
    sys.exit(f"lab: the TLD servers did not load day {k} within 20 s")


def reload(d, role, zone):
    """Bumps the SOA serial of DIR/zones/ROLE/ZONE.zone (edited by a test) and has the role's
    knot load it; returns once its first address answers the new serial."""
    d = os.path.abspath(d)
    path = os.path.join(d, "zones", role, zone_file(zone))
    lines = open(path).read().splitlines()
    new = None
    for i, line in enumerate(lines):
        f = line.split()
        if "SOA" in f:
            k = f.index("SOA") + 3
            new = int(f[k]) + 1
            f[k] = str(new)
            lines[i] = " ".join(f)
            break
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    conf = os.path.join(d, "run", role, "knot.conf")
    subprocess.run(["knotc", "-c", conf, "zone-reload", fqdn(zone)], check=True, capture_output=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        if serial(ROLES[role][0], zone) == new:
            return 0
        time.sleep(0.05)
    sys.exit(f"lab: {role} did not load {zone} serial {new} within 20 s")


def serial(addr, zone):
    """The SOA serial `addr` answers for `zone`, or None."""
    q = struct.pack(">HHHHHH", 0x5A18, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in zone.strip(".").split(".") if l) + b"\0"
    q += struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, (addr, 53))
        r, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    # The answer's last 20 bytes are the SOA's five numbers, serial first.
    return struct.unpack(">I", r[-20:-16])[0] if len(r) > 32 and r[7] >= 1 else None


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
    if len(sys.argv) < 3 or sys.argv[1] not in ("up", "down", "day", "reload"):
        sys.exit(__doc__)
    if sys.argv[1] == "reload":
        sys.exit(reload(sys.argv[2], sys.argv[3], sys.argv[4]))
    if sys.argv[1] == "day":
        sys.exit(day(sys.argv[2], int(sys.argv[3])))
    if sys.argv[1] == "up":
        n = int(sys.argv[sys.argv.index("--children") + 1]) if "--children" in sys.argv else 200
        sys.exit(up(sys.argv[2], n))
    sys.exit(down(sys.argv[2]))
