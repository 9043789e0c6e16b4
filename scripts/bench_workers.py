#!/usr/bin/env python3
"""A zone's analyses spread over 1, 2 and 4 workers through RabbitMQ (issue 33), against the
lab (tests/lab/lab.py) with CHILDREN healthy child zones: `analyze --tld lab --all --via URL`
with N `zonefeed worker`s, each on this machine, beside a local run without the broker (the
baseline). Run by `scripts/bench.sh --workers`; needs root, knotd, unbound and
rabbitmq-server. Everything stays on 127.0.0.0/8.

    bench_workers.py ZONEFEED LABDIR CHILDREN

Prints each case's wall time and tasks (domains) per second. On one machine the workers
share its cores, so the curve shows what the broker costs and where the machine's limit is,
not what more machines would add.
"""

import os
import shutil
import socket
import subprocess
import sys
import time

import lab_bench

zonefeed, lab, children = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3])
here = os.path.dirname(os.path.abspath(__file__))
labpy = os.path.join(here, "..", "tests", "lab", "lab.py")
shutil.rmtree(lab, ignore_errors=True)
subprocess.run([sys.executable, labpy, "up", lab, "--children", str(children)], check=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rabbit_bin(name):
    p = os.path.join("/usr/lib/rabbitmq/bin", name)
    return p if os.path.exists(p) else name


rdir = os.path.join(lab, "rabbit")
os.makedirs(os.path.join(rdir, "log"), exist_ok=True)
port, dist = free_port(), free_port()
node = f"zfbench{os.getpid()}@localhost"
with open(os.path.join(rdir, "rabbitmq.conf"), "w") as f:
    f.write(f"listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users.guest = true\n")
with open(os.path.join(rdir, "enabled_plugins"), "w") as f:
    f.write("[].\n")
env = dict(os.environ, RABBITMQ_NODENAME=node, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(port),
           RABBITMQ_DIST_PORT=str(dist), RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
           RABBITMQ_MNESIA_BASE=os.path.join(rdir, "mnesia"), RABBITMQ_LOG_BASE=os.path.join(rdir, "log"),
           RABBITMQ_CONFIG_FILE=os.path.join(rdir, "rabbitmq"), RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(rdir, "enabled_plugins"),
           RABBITMQ_FEATURE_FLAGS_FILE=os.path.join(rdir, "feature_flags"), RABBITMQ_PLUGINS_EXPAND_DIR=os.path.join(rdir, "plugins-expand"),
           ERL_EPMD_ADDRESS="127.0.0.1", HOME=rdir)
broker = subprocess.Popen([rabbit_bin("rabbitmq-server")], env=env, stdout=open(os.path.join(rdir, "server.out"), "w"), stderr=subprocess.STDOUT)
try:
    deadline = time.time() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("rabbitmq did not start")
            time.sleep(0.2)
    url = f"amqp://127.0.0.1:{port}/%2f"
    zone = os.path.join(lab, "zones", "lab.zone")
    base = os.path.join(lab, "base.db")
    subprocess.run([zonefeed, "--db", base, "--quiet", "import", zone], check=True)
    lab_bench.wait_loaded(children, 120)
    engine = ["--root-hints", os.path.join(lab, "hints"), "--allow-private", "--qps", "100000", "--in-flight", "64", "--timeout", "1"]

    def fresh(name):
        db = os.path.join(lab, name)
        shutil.copy(base, db)
        return db

    def local():
        db = fresh("local.db")
        t = time.monotonic()
        subprocess.run([zonefeed, "--db", db, "--quiet", "analyze", "--tld", "lab", "--all", *engine], check=False)
        return time.monotonic() - t

    def spread(n):
        db = fresh(f"via{n}.db")
        # Each worker runs 256 tasks at once, as a local run analyses 256 domains at once.
        workers = [subprocess.Popen([zonefeed, "--quiet", "worker", url, "--prefetch", "256", *engine], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(n)]
        time.sleep(1)
        t = time.monotonic()
        r = subprocess.run([zonefeed, "--db", db, "--quiet", "analyze", "--tld", "lab", "--all", "--via", url, *engine], capture_output=True, text=True)
        secs = time.monotonic() - t
        for w in workers:
            w.kill()
            w.wait()
        if r.returncode != 0:
            sys.exit(f"analyze --via failed: {r.stderr[-2000:]}")
        return secs

    tasks = children + 30  # the lab's faulty children beside the healthy ones
    n_tasks = int(subprocess.run(["python3", "-c", f"import sqlite3;print(sqlite3.connect('{base}').execute(\"select count(*) from domains where tld='lab' and removed_at is null\").fetchone()[0])"],
                                 capture_output=True, text=True).stdout.strip() or tasks)
    results = [("local run, no broker", local())]
    for n in (1, 2, 4):
        results.append((f"{n} worker(s) through the broker", spread(n)))
finally:
    subprocess.run([rabbit_bin("rabbitmqctl"), "-n", node, "stop"], env=env, capture_output=True)
    broker.kill()
    subprocess.run([sys.executable, labpy, "down", lab], check=False)

print(f"analyze --tld lab --all, {n_tasks} delegations, this machine:")
base_secs = results[0][1]
for what, secs in results:
    print(f"  {what:<34} {secs:7.2f} s   {n_tasks / secs:7.0f} tasks/s   {secs / base_secs:5.2f}x the local run")
