"""`make bench`, PostgreSQL backups: the specification's way against the project's streamed one, side by side.

The specification's way is ``pg_dump | gzip -6 > /tmp/<file>`` then boto3's ``upload_file`` of that file; ours is
``postgres_backup.stream_backup`` + ``finalize`` (what sage.infra.postgresql_backup runs) with the module's
defaults: gzip level 6, 16 MiB parts, 4 in flight. Both run against a real PostgreSQL on loopback and the AWS
emulator, on a pgbench database of at least 500 MB and on a small one, each way in its own child process, twice,
alternating (spec, ours, spec, ours) so that caches favour neither.

pgbench's rows are mostly blank padding: its dump gzips about 35:1, to less than one 16 MiB part, so the upload is
negligible and the part buffers never fill. A third database, bench_small's pgbench tables plus JSON-like documents
with random fields (a dump that gzips about 4:1, like application data), makes the upload count and streams more
parts than are in flight, where the memory of ours reaches its bound.

Figures for each run: wall time of the whole backup (dump, compression, upload; ours also verifies the object and
copies it to its final name); CPU time of the backup process with its children and of the emulator (on this machine
they share the cores, which a real S3 does not); peak RSS of the backup process (wait4's ``ru_maxrss``; pg_dump's
and gzip's own peaks, VmHWM sampled from /proc, apart) and, for ours, how far into the backup it stopped growing;
bytes written to local disk by the backup process and every program it ran (``/proc/self/io`` write_bytes, which
counts the children it reaped, read at its start and end).
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024**2
REGION = "us-west-2"
BUCKET = "sage-bench-backups"
MIN_LARGE_BYTES = 500 * 10**6
# name: (pgbench scale, rows of bench_documents); pgbench's scale 35 is about 530 MB
DATABASES = {"bench_small": (5, 0), "bench_large": (35, 0), "bench_documents": (5, 2_000_000)}
DOCUMENTS_SQL = """
CREATE TABLE bench_documents (id bigint PRIMARY KEY, body text NOT NULL);
INSERT INTO bench_documents
SELECT g, format('{"id": %s, "customer": "%s", "ref": "%s", "status": "%s", "total": %s, "note": "%s"}', g,
                 md5(random()::text), md5(random()::text),
                 (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + floor(random() * 4)::int],
                 round((random() * 1000)::numeric, 2), repeat('lorem ipsum dolor ', floor(random() * 6)::int))
FROM generate_series(1, {rows}) AS g;
"""
TOOLS = ("pg_dump", "gzip")
WAYS = {"spec": "pg_dump | gzip > /tmp, upload_file", "ours": "stream_backup + finalize"}


# --- the child processes --------------------------------------------------------------------------------------------


def _written_bytes() -> int:
    """Bytes this process and the children it reaped sent to storage (page cache writes included)."""
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no write_bytes")


class Memory(threading.Thread):
    """Peak RSS (VmHWM) of the pg_dump and gzip this process runs, and when its own last grew, from /proc every
    50 ms until stopped. ru_maxrss cannot tell them apart: a child forked from Python counts Python's pages until
    it execs.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks_kib = dict.fromkeys(TOOLS, 0)
        self.done = threading.Event()
        self.started = self.grown = time.monotonic()
        self.own_kib = _vm_hwm_kib(Path("/proc/self/status").read_text())

    def run(self) -> None:
        while not self.done.wait(0.05):
            own = _vm_hwm_kib(Path("/proc/self/status").read_text())
            if own > self.own_kib + 1024:  # grew by more than 1 MiB since the last growth
                self.own_kib, self.grown = own, time.monotonic()
            for pid in _descendants(os.getpid()):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                name = status.split("\n", 1)[0].removeprefix("Name:").strip()
                if name in self.peaks_kib:
                    self.peaks_kib[name] = max(self.peaks_kib[name], _vm_hwm_kib(status))

    def stop(self) -> dict:
        """The tools' peaks, and the fraction of the time sampled after which the process's own peak stayed put."""
        self.done.set()
        self.join()
        return {
            "tools_rss_kib": self.peaks_kib,
            "rss_settled": (self.grown - self.started) / (time.monotonic() - self.started),
        }


def _vm_hwm_kib(status: str) -> int:
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        for children in Path(f"/proc/{pending.pop()}/task").glob("*/children"):
            try:
                pids = [int(child) for child in children.read_text().split()]
            except OSError:
                continue
            found += pids
            pending += pids
    return found


def _s3(endpoint: str):
    from tests.harness.emulator import client

    return client(endpoint, "s3")


def _spec_way(s3, job: dict) -> dict:
    path = f"/tmp/sage-bench-{os.getpid()}.sql.gz"
    pipeline = f"set -o pipefail; {shlex.quote(job['pg_dump'])} --no-password | gzip -6 > {shlex.quote(path)}"
    try:
        started = time.monotonic()
        subprocess.run(["bash", "-c", pipeline], env={**os.environ, **job["env"]}, check=True)
        dumped = time.monotonic()
        size = os.path.getsize(path)
        s3.upload_file(path, job["bucket"], job["key"])
        finished = time.monotonic()
    finally:
        if os.path.exists(path):
            os.remove(path)
    return {
        "seconds": finished - started,
        "steps": f"dump+gzip {dumped - started:.1f} s, upload {finished - dumped:.1f} s",
        "bytes": size,
        "file_bytes": size,
    }


def _our_way(s3, job: dict, pg) -> dict:
    started = time.monotonic()
    written = pg.stream_backup(s3, job["bucket"], job["key"], job["env"], bindir=job["bindir"])
    streamed = time.monotonic()
    final = pg.finalize(s3, job["bucket"], written, job["server_version"])
    finished = time.monotonic()
    return {
        "seconds": finished - started,
        "steps": f"stream {streamed - started:.1f} s, {written['parts']} parts; verify {finished - streamed:.1f} s",
        "bytes": written["bytes"],
        "dump_bytes": written["dump_bytes"],
        "parts": written["parts"],
        "key": final["key"],
    }


def driver() -> None:
    """One backup, as the job on stdin says; its figures as JSON on stdout."""
    job = json.loads(sys.stdin.read())
    s3 = _s3(job["endpoint"])
    pg = None
    if job["way"] == "ours":
        sys.path.append(str(ROOT / "collections"))
        from ansible_collections.sage.infra.plugins.module_utils import postgres_backup as pg
    s3.head_bucket(Bucket=job["bucket"])  # connection and credentials set up before the clock starts
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    memory = Memory()
    memory.start()
    written_before = _written_bytes()
    result = _our_way(s3, job, pg) if pg else _spec_way(s3, job)
    result["disk_bytes"] = _written_bytes() - written_before
    result.update(memory.stop())
    result["rss_before_kib"] = rss_before
    json.dump(result, sys.stdout)


# --- the benchmark --------------------------------------------------------------------------------------------------


def run_way(way: str, job: dict) -> dict:
    """Run one backup in a child process; its figures, with the child's rusage from wait4."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench_backup", "--driver"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    process.stdin.write(json.dumps({**job, "way": way}))
    process.stdin.close()
    output = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"the {way} backup failed (exit {process.returncode})")
    # ru_maxrss from wait4: the backup process's peak, or a child's if larger (pg_dump's and gzip's are apart)
    return {**json.loads(output), "peak_rss_kib": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def empty_bucket(s3, key: str, expected_bytes: int) -> None:
    """Check the backup is there with its size, then delete everything (the emulator keeps objects in memory)."""
    size = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    if size != expected_bytes:
        raise RuntimeError(f"s3://{BUCKET}/{key} holds {size} bytes, the backup wrote {expected_bytes}")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def mib(size: float) -> str:
    return f"{size / MiB:,.1f}"


def generate(server, name: str, scale: int, documents: int) -> int:
    """The database, filled; its size (pg_database_size)."""
    server.create_database(name)
    server.pgbench_init(name, scale)
    if documents:
        server.psql(DOCUMENTS_SQL.replace("{rows}", str(documents)) + "VACUUM ANALYZE bench_documents;", name, 600)
    return int(server.psql(f"SELECT pg_database_size('{name}')"))


def main() -> None:
    from tests.harness import emulator as emulator_harness
    from tests.harness import postgres_server

    pg_dump = postgres_server.client_program("pg_dump")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        "PostgreSQL backups of generated databases to the AWS emulator's S3\n"
    )
    databases = {}
    with emulator_harness.running() as emulator, postgres_server.running() as server:
        s3 = _s3(emulator.endpoint)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        version = server.psql("SHOW server_version").strip()
        for name, (scale, documents) in DATABASES.items():
            started = time.monotonic()
            size = generate(server, name, scale, documents)
            databases[name] = {"size": size, "runs": {way: [] for way in WAYS}}
            content = f"pgbench scale {scale}" + (f" + {documents:,} documents" if documents else "")
            print(f"generated {name}: {content}, {mib(size)} MiB, in {time.monotonic() - started:.0f} s")
        if databases["bench_large"]["size"] < MIN_LARGE_BYTES:
            raise RuntimeError(f"bench_large is below {MIN_LARGE_BYTES / 10**6:.0f} MB: raise its pgbench scale")
        print(f"PostgreSQL {version}, {pg_dump}\n")
        for name, database in databases.items():
            for attempt in (1, 2):
                for way in WAYS:
                    job = {
                        "endpoint": emulator.endpoint,
                        "bucket": BUCKET,
                        "key": f"bench/{name}/{way}-{attempt}/backup_20250101_000000.sql.gz",
                        "env": server.env(name),
                        "pg_dump": pg_dump,
                        "bindir": os.path.dirname(pg_dump),
                        "server_version": version,
                    }
                    emulator_cpu = cpu_seconds(emulator.process.pid)
                    run = run_way(way, job)
                    run["emulator_cpu_seconds"] = cpu_seconds(emulator.process.pid) - emulator_cpu
                    empty_bucket(s3, run.get("key", job["key"]), run["bytes"])
                    database["runs"][way].append(run)
                    print(f"  {name} {way} run {attempt}: {run['seconds']:6.1f} s  ({run['steps']})", flush=True)
    report(databases)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine skews wall times, not CPU s)")


def best(runs: list[dict]) -> float:
    return min(run["seconds"] for run in runs)


def peak(runs: list[dict], field: str) -> int:
    return max(run[field] for run in runs)


def cpu(runs: list[dict]) -> float:
    """CPU seconds of the backup and of the emulator, the least of the runs."""
    return min(run["cpu_seconds"] + run["emulator_cpu_seconds"] for run in runs)


def report(databases: dict) -> None:
    print(
        f"\n{'database':25} {'way':9} {'run 1':>6} {'run 2':>6} {'best':>6} {'dump MiB/s':>10} {'upload MiB':>10} "
        f"{'CPU s':>11} {'peak RSS MiB':>12} {'pg_dump/gzip MiB':>16} {'local disk bytes':>16}"
    )
    for name, database in databases.items():
        dump_bytes = database["runs"]["ours"][0]["dump_bytes"]  # the same dump both ways
        for way, runs in database["runs"].items():
            fastest = min(runs, key=lambda run: run["seconds"])
            cpu_text = f"{fastest['cpu_seconds']:.1f} + {fastest['emulator_cpu_seconds']:.1f}"
            tools = " / ".join(mib(max(run["tools_rss_kib"][tool] for run in runs) * 1024) for tool in TOOLS)
            print(
                f"{name + ' ' + mib(database['size']) + ' MiB':25} {way:9} {runs[0]['seconds']:5.1f}s "
                f"{runs[1]['seconds']:5.1f}s {best(runs):5.1f}s {dump_bytes / MiB / best(runs):10.1f} "
                f"{mib(runs[0]['bytes']):>10} {cpu_text:>11} {mib(peak(runs, 'peak_rss_kib') * 1024):>12} {tools:>16} "
                f"{peak(runs, 'disk_bytes'):>16,}"
            )
    print(f"\nspec = {WAYS['spec']}; ours = {WAYS['ours']} (gzip 6, 16 MiB parts, 4 in flight)")
    print(
        "CPU s: of the backup process with its children + of the emulator, in the faster run; peak RSS: of the "
        "backup process (wait4's ru_maxrss);\npg_dump/gzip: their own peak RSS (VmHWM); local disk: write_bytes "
        "(/proc/self/io) of the backup process with its children"
    )
    for name, database in databases.items():
        runs = database["runs"]
        dump = runs["ours"][0]["dump_bytes"]
        print(
            f"{name}: dump {mib(dump)} MiB, gzip {dump / runs['ours'][0]['bytes']:.1f}:1, "
            f"{runs['ours'][0]['parts']} parts; ours/spec: wall time {best(runs['ours']) / best(runs['spec']):.2f} "
            f"(best of 2 each; goal: < 1), CPU s {cpu(runs['ours']) / cpu(runs['spec']):.2f}; "
            f"local disk spec {peak(runs['spec'], 'disk_bytes'):,} bytes, ours {peak(runs['ours'], 'disk_bytes'):,} "
            "bytes (goal: 0)"
        )
    interpreter = max(run["rss_before_kib"] for d in databases.values() for run in d["runs"]["ours"]) * 1024
    sizes = ", ".join(
        f"{name} {mib(d['size'])} MiB -> {mib(peak(d['runs']['ours'], 'peak_rss_kib') * 1024)} MiB"
        for name, d in databases.items()
    )
    print(f"peak RSS of ours: {sizes}")
    settled = ", ".join(
        f"{name} {max(run['rss_settled'] for run in d['runs']['ours']):.0%}" for name, d in databases.items()
    )
    print(f"  ours' RSS stopped growing (by > 1 MiB) this far into the backup: {settled}")
    print(
        f"  (python + boto3 before the backup: {mib(interpreter)} MiB; the module's bound on what streaming adds: "
        "about 16 MiB parts x (4 in flight + 1) = 80 MiB)"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--driver"]:
        driver()
    else:
        main()
