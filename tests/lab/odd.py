#!/usr/bin/env python3
"""A small authoritative server that misbehaves in one way, for the faults Knot will not show.

    python3 odd.py ADDRESS MODE ZONE ZONEFILE

MODE:
    noedns   drops every question that carries EDNS (an OPT record); answers the others
    notcp    answers over UDP only: nothing listens on TCP

Every question is logged on stdout (`query udp [edns] NAME TYPE`). ZONEFILE holds one record a line, `owner TTL IN TYPE rdata` with absolute names, of the types
SOA, NS, A, AAAA and MX. Questions outside ZONE are REFUSED; a name in the zone without the
type gets NODATA, one not in it NXDOMAIN, both with the SOA. Standard library only; messages
are encoded here without name compression (they are small).
"""

import ipaddress
import socket
import struct
import sys
import threading

TYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "AAAA": 28}


def name_wire(name):
    labels = [l for l in name.rstrip(".").split(".") if l]
    return b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\0"


def rdata_wire(rtype, rdata):
    f = rdata.split()
    if rtype == "A":
        return ipaddress.IPv4Address(f[0]).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(f[0]).packed
    if rtype == "NS":
        return name_wire(f[0])
    if rtype == "MX":
        return struct.pack(">H", int(f[0])) + name_wire(f[1])
    if rtype == "SOA":
        return name_wire(f[0]) + name_wire(f[1]) + struct.pack(">IIIII", *map(int, f[2:7]))
    raise ValueError(rtype)


def load(path):
    records = []
    for line in open(path):
        f = line.split(None, 4)
        if len(f) == 5:
            owner, ttl, _, rtype, rdata = f
            records.append((owner.lower().rstrip("."), int(ttl), rtype, rdata.strip()))
    return records


def read_question(msg):
    """(id, rd, qname, qtype, has_opt) of a query."""
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    i, labels = 12, []
    while msg[i]:
        labels.append(msg[i + 1 : i + 1 + msg[i]].decode().lower())
        i += 1 + msg[i]
    qtype, _ = struct.unpack(">HH", msg[i + 1 : i + 5])
    question = msg[12 : i + 5]
    return qid, flags & 0x0100, ".".join(labels), qtype, ar > 0, question


def answer(msg, zone, records):
    qid, rd, qname, qtype, _, question = read_question(msg)
    rr = lambda r: name_wire(r[0]) + struct.pack(">HHIH", TYPES[r[2]], 1, r[1], len(rdata_wire(r[2], r[3]))) + rdata_wire(r[2], r[3])
    soa = [r for r in records if r[2] == "SOA"]
    if not (qname == zone or qname.endswith("." + zone)):
        return struct.pack(">HHHHHH", qid, 0x8000 | rd | 5, 1, 0, 0, 0) + question
    exists = any(r[0] == qname for r in records)
    match = [r for r in records if r[0] == qname and TYPES[r[2]] == qtype]
    if match:
        return struct.pack(">HHHHHH", qid, 0x8400 | rd, 1, len(match), 0, 0) + question + b"".join(rr(r) for r in match)
    rcode = 0 if exists else 3
    return struct.pack(">HHHHHH", qid, 0x8400 | rd | rcode, 1, 0, len(soa), 0) + question + b"".join(rr(r) for r in soa)


def serve_udp(addr, mode, zone, records):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            # The query log the tests read: one line a question.
            q = read_question(msg)
            print(f"query udp{' edns' if q[4] else ''} {q[2]} {q[3]}", flush=True)
            if mode == "noedns" and read_question(msg)[4]:
                continue
            s.sendto(answer(msg, zone, records), peer)
        except (IndexError, struct.error, UnicodeDecodeError):
            continue


def serve_tcp(addr, zone, records):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 53))
    s.listen(16)
    while True:
        c, _ = s.accept()
        try:
            c.settimeout(2)
            n = struct.unpack(">H", c.recv(2))[0]
            msg = b""
            while len(msg) < n:
                msg += c.recv(n - len(msg))
            print(f"query tcp {read_question(msg)[2]} {read_question(msg)[3]}", flush=True)
            out = answer(msg, zone, records)
            c.sendall(struct.pack(">H", len(out)) + out)
        except (OSError, IndexError, struct.error):
            pass
        finally:
            c.close()


if __name__ == "__main__":
    addr, mode, zone, path = sys.argv[1:5]
    records = load(path)
    zone = zone.lower().rstrip(".")
    if mode != "notcp":
        threading.Thread(target=serve_tcp, args=(addr, zone, records), daemon=True).start()
    serve_udp(addr, mode, zone, records)
