"""`make security`: the stack's security posture as Prowler measures it, on the emulator.

For each shape (prod: `inventories/prod`'s settings; local: the embedded default), on an emulator of its own:
converge site.yml, run Prowler (its own virtual environment, `--prowler`) on the services the stack uses, and sort
its failed findings:

- not this stack's: account-wide settings (password policy, CloudTrail, GuardDuty ...) and resources the emulator
  ships on its own (public snapshots, its default VPC): another team's or the account's baseline, not ours;
- the emulator's doing: checks whose failure only the emulator causes (EMULATOR_ONLY says which and why);
- muted: listed in security/mutelist.yaml with a Description saying why (docs/security.md explains each);
- pending: open, and known: security/pending.yaml names the fix planned for the check;
- open: everything else, which nobody has looked at yet.

Every check in security/fixed.yaml must pass on every resource it sees: those are the fixes this project made,
measured rather than claimed. The prod shape fails the run on any open (unknown) finding or any fixed check that
fails again;
the local shape is reported beside it (it is single-AZ and without paid extras on purpose).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.harness import emulator as emulator_harness
from tests.harness.ecr import push_image
from tests.harness.operator import operator_session
from tests.harness.playbook import ROOT, run_playbook

STACK = "sage"
SECURITY_DIR = ROOT / "security"
MUTELIST = SECURITY_DIR / "mutelist.yaml"
FIXED = SECURITY_DIR / "fixed.yaml"
PENDING = SECURITY_DIR / "pending.yaml"
SEVERITIES = ("critical", "high", "medium", "low", "informational")
# The services the stack uses (Prowler's names): the rest of an account is not this project's to judge.
SERVICES = ["acm", "awslambda", "backup", "cloudwatch", "ec2", "ecr", "ecs", "elasticache", "elbv2", "iam", "kms"]
SERVICES += ["rds", "s3", "secretsmanager", "sns", "sqs", "vpc"]

# Checks that fail only because of the emulator (moto), with the reason. Their findings are dropped.
EMULATOR_ONLY = {
    "rds_instance_certificate_expiration": "moto reports the RDS CA certificate's ValidTill in the past",
    "ec2_securitygroup_not_used": (
        "moto creates no network interfaces for RDS and ElastiCache, so their security groups look unused"
    ),
    "secretsmanager_secret_unused": "moto never records LastAccessedDate: nothing reads the secrets in the emulator",
    "rds_instance_deprecated_engine_version": (
        "moto does not implement DescribeDBEngineVersions, so Prowler finds PostgreSQL 18 in no list of versions"
    ),
}


def muted_checks() -> dict[str, dict]:
    """{check: its mutelist entry}, over every account of security/mutelist.yaml."""
    accounts = yaml.safe_load(MUTELIST.read_text())["Mutelist"]["Accounts"]
    return {check: entry for account in accounts.values() for check, entry in account["Checks"].items()}


def undescribed_mutes() -> list[str]:
    """The muted checks whose entry gives no reason (Description)."""
    return [check for check, entry in muted_checks().items() if not str(entry.get("Description", "")).strip()]


def prod_shape() -> dict:
    """`inventories/prod`'s settings of the roles, to converge on the local inventory's emulator connection."""
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", "inventories/prod", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "ANSIBLE_VAULT_PASSWORD_FILE"},
    )
    hostvars = json.loads(listed.stdout)["_meta"]["hostvars"]["localhost"]
    return {name: value for name, value in hostvars.items() if not name.startswith(("sage_aws_", "ansible_", "group_"))}


def self_signed_certificate(acm) -> str:
    """An imported certificate for the HTTPS listener prod runs with (prod's inventory names its ACM certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.sage.example")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("api.sage.example")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return acm.import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )["CertificateArn"]


def converge(emulator, shape: str) -> float:
    client = emulator_harness.client
    client(emulator.endpoint, "ecr").create_repository(repositoryName=f"{STACK}-backend")
    push_image(client(emulator.endpoint, "ecr"), f"{STACK}-backend", "initial-sha", "latest")
    extra_vars = {}
    if shape == "prod":
        extra_vars = prod_shape()
        extra_vars["ecs_certificate_arn"] = self_signed_certificate(client(emulator.endpoint, "acm"))
        # prod's inventory names who runs the playbooks: here a session of an operator role, as AWX's would be.
        operator, extra_vars["sage_aws_connection"] = operator_session(emulator.endpoint)
        extra_vars["secrets_operator_principal_arns"] = [operator]
    started = time.monotonic()
    run_playbook("site.yml", emulator.endpoint, extra_vars=extra_vars, timeout=1800).assert_ok()
    return time.monotonic() - started


def stack_resource_ids(endpoint: str) -> set[str]:
    """The ids of what lives in the stack's VPC (its default network ACL and security group among them)."""
    ec2 = emulator_harness.client(endpoint, "ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{STACK}-vpc"]}])["Vpcs"]
    ids = {vpc["VpcId"] for vpc in vpcs}
    in_vpc = [{"Name": "vpc-id", "Values": sorted(ids)}]
    for call, key, id_key in (
        (ec2.describe_network_acls, "NetworkAcls", "NetworkAclId"),
        (ec2.describe_security_groups, "SecurityGroups", "GroupId"),
        (ec2.describe_subnets, "Subnets", "SubnetId"),
        (ec2.describe_route_tables, "RouteTables", "RouteTableId"),
        (ec2.describe_vpc_endpoints, "VpcEndpoints", "VpcEndpointId"),
    ):
        ids |= {item[id_key] for item in call(Filters=in_vpc)[key]}
    return ids


def is_stack_resource(finding: dict, stack_ids: set[str]) -> bool:
    resource = finding["resources"][0]
    text = f"{resource.get('uid', '')} {resource.get('name', '')}"
    if f"Project:{STACK}" in resource.get("labels", []):
        return True
    if re.search(rf"(^|[:/ ]){STACK}[-/]", text):
        return True
    return any(resource_id in text for resource_id in stack_ids)


def run_prowler(prowler: str, endpoint: str, output: Path) -> tuple[list[dict], float]:
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-west-2",
    )
    env.pop("AWS_PROFILE", None)
    command = [prowler, "aws", "--region", "us-west-2", "--service", *SERVICES, "--mutelist-file", str(MUTELIST)]
    command += ["--output-formats", "json-ocsf", "--output-directory", str(output), "--no-banner"]
    started = time.monotonic()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.monotonic() - started
    reports = sorted(output.glob("*.ocsf.json"))
    # Prowler exits 3 when a check failed: that is the normal outcome here, not an error.
    if completed.returncode not in (0, 3) or not reports:
        output = completed.stdout[-3000:] + completed.stderr[-3000:]
        raise SystemExit(f"prowler failed ({completed.returncode}):\n{output}")
    return json.loads(reports[-1].read_text()), seconds


def check_id(finding: dict) -> str:
    return finding["metadata"]["event_code"]


def sort_findings(findings: list[dict], stack_ids: set[str], pending: dict[str, str]) -> dict[str, list[dict]]:
    sorted_findings = collections.defaultdict(list)
    for finding in findings:
        if not is_stack_resource(finding, stack_ids):
            sorted_findings["not this stack's"].append(finding)
        elif finding["status_code"] == "PASS":
            sorted_findings["pass"].append(finding)
        elif finding["status_code"] != "FAIL":
            sorted_findings["manual"].append(finding)
        elif check_id(finding) in EMULATOR_ONLY:
            sorted_findings["emulator"].append(finding)
        elif finding.get("status") == "Suppressed":
            sorted_findings["muted"].append(finding)
        elif check_id(finding) in pending:
            sorted_findings["pending"].append(finding)
        else:
            sorted_findings["open"].append(finding)
    return sorted_findings


def fixed_regressions(sorted_findings: dict[str, list[dict]], fixed: dict[str, str]) -> list[str]:
    """The fixed checks that fail on a stack resource again (unless muted for that resource by name: the log
    bucket's own access is not logged), or that saw none of the stack's resources."""
    failing = {check_id(f) for key in ("open", "pending") for f in sorted_findings[key]}
    passing = {check_id(f) for f in sorted_findings["pass"]}
    problems = [f"{check}: fails again ({fixed[check]})" for check in sorted(fixed) if check in failing]
    problems += [f"{check}: saw none of the stack's resources" for check in sorted(fixed) if check not in passing]
    return problems


def summary_table(results: dict[str, dict]) -> str:
    """Markdown: per shape and severity, the findings that pass, are muted, are open with a planned fix, are open."""
    lines = [
        "| shape | severity | pass | muted (reason given) | open, fix planned | open, unknown |",
        "|---|---|---|---|---|---|",
    ]
    for shape, result in results.items():
        for severity in SEVERITIES:
            counts = [
                sum(1 for f in result["sorted"][key] if f["severity"].lower() == severity)
                for key in ("pass", "muted", "pending", "open")
            ]
            if any(counts):
                lines.append(f"| {shape} | {severity} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(lines)


def scan(shape: str, prowler: str, workdir: Path, pending: dict[str, str]) -> dict:
    with emulator_harness.running() as emulator:
        converge_seconds = converge(emulator, shape)
        findings, prowler_seconds = run_prowler(prowler, emulator.endpoint, workdir / shape)
        sorted_findings = sort_findings(findings, stack_resource_ids(emulator.endpoint), pending)
    return {"sorted": sorted_findings, "converge": converge_seconds, "prowler": prowler_seconds}


def describe(finding: dict) -> str:
    return f"  {finding['severity']:<8} {check_id(finding)}: {finding['status_detail']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="security", description=__doc__.splitlines()[0])
    parser.add_argument("--prowler", required=True, help="the prowler command (its own virtual environment)")
    parser.add_argument("--shapes", nargs="+", default=["prod", "local"], choices=["prod", "local"])
    args = parser.parse_args(argv)
    undescribed = undescribed_mutes()
    if undescribed:
        print(f"{MUTELIST}: every entry needs a Description (the reason): {', '.join(undescribed)}")
        return 1
    fixed = yaml.safe_load(FIXED.read_text())
    pending = yaml.safe_load(PENDING.read_text())
    failed = False
    results = {}
    with tempfile.TemporaryDirectory(prefix="sage-security-") as workdir:
        for shape in args.shapes:
            result = results[shape] = scan(shape, args.prowler, Path(workdir), pending)
            sorted_findings = result["sorted"]
            print(f"\n== {shape} shape: converged in {result['converge']:.0f} s, Prowler ran {result['prowler']:.0f} s")
            for key, reasons in (("emulator", EMULATOR_ONLY), ("muted", None)):
                for check, count in sorted(collections.Counter(map(check_id, sorted_findings[key])).items()):
                    print(f"{key}: {check} x{count}" + (f" ({reasons[check]})" if reasons else ""))
            others = len(sorted_findings["not this stack's"])
            print(f"not this stack's: {others} findings (account-wide, or the emulator's own resources)")
            # The fixes are prod's (some turn on what costs money, which local leaves off on purpose).
            regressions = fixed_regressions(sorted_findings, fixed) if shape == "prod" else []
            for problem in regressions:
                print(f"fixed check: {problem}")
            for check, count in sorted(collections.Counter(map(check_id, sorted_findings["pending"])).items()):
                print(f"open, fix planned: {check} x{count} ({pending[check]})")
            for finding in sorted_findings["open"]:
                print("open:" + describe(finding))
            if shape == "prod" and (sorted_findings["open"] or regressions):
                failed = True
    print("\n" + summary_table(results))
    if failed:
        print(
            "\nOpen findings on the prod shape: fix them, mute them in security/mutelist.yaml with the reason, or"
            " name the planned fix in security/pending.yaml."
        )
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
