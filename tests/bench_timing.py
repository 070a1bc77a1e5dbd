"""`make bench`: site.yml when NAT gateways, RDS and Valkey take time to create, as on AWS.

The emulator keeps new resources pending/creating for the given seconds (tests/harness/moto_timing.py).
Two converges from an empty account in one emulator: with everything available at once, then with the
creation times. The roles create the database and the cache together and wait for both, so the creation
times should add about the longest chain (the NAT gateway, then the slower of RDS and Valkey), not their sum.

    python -m tests.bench_timing [--nat 20] [--rds 60] [--valkey 50]
"""

from __future__ import annotations

import argparse
import os
import time

from tests.bench import aws_client
from tests.harness import emulator as emulator_harness
from tests.harness.ecr import push_image
from tests.harness.playbook import run_playbook

KINDS = {
    "nat": ("NAT gateway", "DescribeNatGateways"),
    "rds": ("RDS instance", "DescribeDBInstances"),
    "valkey": ("Valkey group", "DescribeReplicationGroups"),
}


def converge(emulator, **seconds) -> tuple[float, dict, list]:
    """site.yml from an empty account (where CI pushed the image) with the creation times given."""
    emulator.reset_state()
    ecr = aws_client(emulator.endpoint, "ecr")
    ecr.create_repository(repositoryName="sage-backend")
    push_image(ecr, "sage-backend", "latest")
    emulator.configure_timing(**seconds)
    emulator.reset_calls()
    start = time.monotonic()
    run_playbook("site.yml", emulator.endpoint).assert_ok()
    return time.monotonic() - start, emulator.timing(), emulator.calls()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_timing", description=__doc__.splitlines()[0])
    for kind, default in (("nat", 20.0), ("rds", 60.0), ("valkey", 50.0)):
        parser.add_argument(f"--{kind}", type=float, default=default, help=f"seconds ({default:g})")
    delays = vars(parser.parse_args(argv))
    print(
        f"machine: {os.cpu_count()} cores; site.yml from an empty account on inventories/local; creation times: "
        + ", ".join(f"{KINDS[kind][0]} {seconds:g} s" for kind, seconds in delays.items())
        + "\n"
    )
    with emulator_harness.running() as emulator:
        fast_s, _, _ = converge(emulator)
        timed_s, timing, calls = converge(emulator, **delays)
        emulator.reset_state()

    longest = delays["nat"] + max(delays["rds"], delays["valkey"])
    total = sum(delays.values())
    print(f"{'converge, everything available at once':44} {fast_s:7.1f} s")
    print(f"{'converge, with the creation times':44} {timed_s:7.1f} s")
    print(f"{'difference (moved by other load too)':44} {timed_s - fast_s:7.1f} s\n")

    origin = calls[0]["start"]
    created, seen = {}, {}
    print(f"{'seconds into the play':22} {'created':>8} {'available':>10} {'seen available':>15}")
    for resource in timing["resources"]:
        kind = resource["kind"]
        name, describe = KINDS[kind]
        created[kind] = resource["start"] - origin
        seen[kind] = next(c["start"] for c in calls if c["action"] == describe and c["start"] >= resource["available"])
        seen[kind] -= origin
        print(f"{name:22} {created[kind]:8.1f} {resource['available'] - origin:10.1f} {seen[kind]:15.1f}")

    # The play waits for the NAT gateway, then starts the database and the cache and waits for both.
    nat_span = seen["nat"] - created["nat"]
    data_span = max(seen["rds"], seen["valkey"]) - min(created["rds"], created["valkey"])
    waited = nat_span + data_span
    print(
        f"\n{'waiting in the play':44} {waited:7.1f} s  (NAT created -> seen {nat_span:.1f} s; "
        f"database and cache created -> both seen {data_span:.1f} s)"
    )
    print(
        f"{'longest chain':44} {longest:7.1f} s  (NAT {delays['nat']:g} + max(RDS {delays['rds']:g}, "
        f"Valkey {delays['valkey']:g}))"
    )
    print(f"{'sum of the creation times':44} {total:7.1f} s")
    print(f"{'waiting / longest chain':44} {waited / longest:7.2f}  (1 = no time lost beyond the longest chain)")
    print(f"{'waiting / sum':44} {waited / total:7.2f}  (1 = one creation after the other)")


if __name__ == "__main__":
    main()
