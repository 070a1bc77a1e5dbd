"""The AWS emulator used by `make demo`, the tests and `make bench`.

moto's own WSGI application, wrapped in a middleware that records every AWS API call it
answers (service, action, the resource it names where one of ``RESOURCE_PARAMETERS`` does, and when it
started and ended on the emulator's ``time.monotonic`` clock), so tests can assert "no call was made" or
"this call came after that one" and benchmarks can count calls per run.  The record is read with
``GET /_sage/calls`` and cleared with ``POST /_sage/calls/reset``. ``/_sage/ecs/rollout`` sets how ECS
deployments progress (moto_ecs), ``/_sage/timing`` how long NAT gateways, RDS and Valkey take to become
available (moto_timing); everything else goes to moto unchanged.

Command line::

    python -m tests.harness.emulator serve [--host 127.0.0.1] [--port 5000]
    python -m tests.harness.emulator run -- CMD ...   # free port, AWS_ENDPOINT_URL set, CMD run
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.harness import moto_timing
from tests.harness.net import free_port

ROOT = Path(__file__).resolve().parents[2]
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
MUTATING_PREFIXES = (
    "Create",
    "Put",
    "Modify",
    "Update",
    "Delete",
    "Register",
    "Deregister",
    "Attach",
    "Detach",
    "Associate",
    "Disassociate",
    "Allocate",
    "Release",
    "Authorize",
    "Revoke",
    "Tag",
    "Untag",
    "Add",
    "Remove",
    "Replace",
    "Restore",
    "Enable",
    "Disable",
    "Set",
    "Start",
    "Stop",
    "Reboot",
    "Rotate",
    "Cancel",
    "Increase",
    "Decrease",
    "Apply",
    "Publish",
    "Subscribe",
    "Unsubscribe",
    "Invoke",
    "POST ",
    "PUT ",
    "DELETE ",
    "PATCH ",
)


# Request parameters that name the resource a call is about (the first one present is recorded).
RESOURCE_PARAMETERS = ("SecretId", "Name", "DBInstanceIdentifier", "ReplicationGroupId", "NatGatewayId")


# The calls of a converge that each create one resource of the plan. Not counted: what is part of a resource in the
# plan (a role's inline policy, a route, a route table's association, tags, a log group's retention, a listener of
# the load balancer, a scalable target of its scaling policy, a subscription of its topic) - see each kind's entry.
# S3 and Lambda are REST APIs: a bucket is PUT /<bucket> without a subresource, each lifecycle rule one
# PUT /<bucket>?lifecycle (community.aws.s3_lifecycle writes one rule a run), a permission POST .../policy.
CREATING = re.compile(
    r"^(Create(Vpc|Subnet|InternetGateway|NatGateway|RouteTable|SecurityGroup|VpcEndpoint|FlowLogs|LogGroup|Role"
    r"|Secret|DBSubnetGroup|DBParameterGroup|DBInstance|CacheSubnetGroup|CacheParameterGroup|ReplicationGroup"
    r"|Repository|TargetGroup|LoadBalancer|Cluster|Service|Topic|Queue)|AllocateAddress|RegisterTaskDefinition"
    r"|PutScalingPolicy|PutMetricAlarm|PutDashboard|POST /2015-03-31/functions(/[^/]+/policy)?)$"
)


def creates_a_resource(call: dict) -> bool:
    """Whether the call creates one resource of the plan."""
    if call["service"] == "s3" and call["action"].count("/") == 1 and call["action"].startswith("PUT "):
        return call.get("query") in ("", "lifecycle", "lifecycle=")
    return bool(CREATING.match(call["action"]))


def is_mutating(action: str) -> bool:
    return action.startswith(MUTATING_PREFIXES)


class CallRecorder:
    """WSGI middleware: records (service, action) of each AWS request, then calls moto."""

    def __init__(self, app):
        self.app = app
        self.calls: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sage/calls"):
            return self._serve_record(environ, start_response, path)
        if path == "/_sage/ecs/rollout" and environ["REQUEST_METHOD"] == "POST":
            return self._configure_rollout(environ, start_response)
        if path.startswith("/_sage/timing"):
            return self._serve_timing(environ, start_response, path)
        call = self._identify(environ)
        if not call:
            return self.app(environ, start_response)
        call["start"] = time.monotonic()
        try:
            return self.app(environ, start_response)  # moto has computed its whole answer when this returns
        finally:
            # Recorded once answered: a call's "end" precedes the "start" of any call made because of its answer.
            call["end"] = time.monotonic()
            with self.lock:
                self.calls.append(call)

    def _serve_record(self, environ, start_response, path):
        if path.endswith("/reset") and environ["REQUEST_METHOD"] == "POST":
            with self.lock:
                self.calls.clear()
            body = b"[]"
        else:
            with self.lock:
                body = json.dumps(self.calls).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    @staticmethod
    def _configure_rollout(environ, start_response):
        """How ECS deployments progress: {"seconds": s, "failing_images": [image, ...], "alarming_images": {image:
        [alarm, ...]}} (see moto_ecs)."""
        from ansible_collections.sage.infra.tests.unit import moto_ecs

        length = int(environ.get("CONTENT_LENGTH") or 0)
        settings = json.loads(environ["wsgi.input"].read(length) or b"{}")
        moto_ecs.configure_rollout(**settings)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    @staticmethod
    def _serve_timing(environ, start_response, path):
        """How long new NAT gateways, RDS instances and Valkey groups take: {"nat": s, "rds": s, ...} (moto_timing)."""
        if environ["REQUEST_METHOD"] == "POST":
            if path.endswith("/reset"):
                moto_timing.reset()
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    moto_timing.configure(**json.loads(environ["wsgi.input"].read(length) or b"{}"))
                except (TypeError, ValueError) as error:
                    start_response("400 Bad Request", [("Content-Type", "application/json")])
                    return [json.dumps({"error": str(error)}).encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(moto_timing.state()).encode()]

    @staticmethod
    def _body(environ) -> bytes:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @classmethod
    def _identify(cls, environ) -> dict[str, str] | None:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scope = _CREDENTIAL_SCOPE.search(auth)
        if not scope:
            return None
        service = scope.group(1)
        content_type = environ.get("CONTENT_TYPE", "")
        target = environ.get("HTTP_X_AMZ_TARGET")
        params = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if target:
            action = target.rsplit(".", 1)[-1]
            if "json" in content_type:
                try:
                    document = json.loads(cls._body(environ) or b"{}")
                except ValueError:
                    document = None
                if isinstance(document, dict):
                    params = {key: [value] for key, value in document.items()}
        else:
            if "Action" not in params and "form-urlencoded" in content_type:
                params = urllib.parse.parse_qs(cls._body(environ).decode("utf-8", "replace"))
            # REST protocols (S3, Lambda ...): method and path
            action = params.get("Action", [""])[0] or f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '/')}"
        call = {"service": service, "action": action}
        if not target and "Action" not in params:
            # REST: the subresource is in the query (PUT /bucket?versioning is not PUT /bucket, the creation).
            call["query"] = environ.get("QUERY_STRING", "")
        named = [params[key][0] for key in RESOURCE_PARAMETERS if isinstance(params.get(key, [None])[0], str)]
        if named:
            call["resource"] = named[0]
        return call


# A few of the engine defaults RDS gives every new postgres parameter group (moto gives none,
# so amazon.aws.rds_instance_param_group finds no parameter to set).
POSTGRES_DEFAULT_PARAMETERS = {
    "max_connections": ("integer", "static", "LEAST({DBInstanceClassMemory/9531392},5000)"),
    "rds.force_ssl": ("boolean", "dynamic", "0"),
    "log_min_duration_statement": ("integer", "dynamic", None),
    "shared_buffers": ("integer", "static", "{DBInstanceClassMemory/32768}"),
    "work_mem": ("integer", "dynamic", None),
}


ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
}


def patch_moto_gaps() -> None:
    """Make moto answer like AWS where amazon.aws depends on it (moto 5.2)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.security_groups import SecurityGroups
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE
    from moto.rds.exceptions import DBParameterGroupNotFoundError
    from moto.rds.models import DBInstance, DBParameterGroup
    from moto.rds.responses import RDSResponse

    # DescribeTags calls a NAT gateway's resource type "natgateway"; moto says "nat-gateway", so
    # amazon.aws.ec2_vpc_nat_gateway never saw its tags and re-tagged on every run.
    EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"

    original_init = DBParameterGroup.__init__

    def init_with_engine_defaults(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if (self.family or "").startswith("postgres"):
            for name, (data_type, apply_type, value) in POSTGRES_DEFAULT_PARAMETERS.items():
                parameter = {
                    "ParameterName": name,
                    "DataType": data_type,
                    "ApplyType": apply_type,
                    "IsModifiable": True,
                    "Source": "engine-default",
                }
                if value is not None:
                    parameter["ParameterValue"] = value
                self.parameters[name] = parameter

    DBParameterGroup.__init__ = init_with_engine_defaults

    # AWS answers DBParameterGroupNotFound for a name that does not exist; moto an empty list,
    # which amazon.aws.rds_instance_param_group indexes into.
    original_describe = RDSResponse.describe_db_parameter_groups

    def describe_or_not_found(self):
        name = self.params.get("DBParameterGroupName")
        if name and not self.backend.describe_db_parameter_groups({"db_parameter_group_name": name}):
            raise DBParameterGroupNotFoundError(name)
        return original_describe(self)

    RDSResponse.describe_db_parameter_groups = describe_or_not_found

    # AWS reports a gp3 volume's baseline (3000 IOPS, 125 MiB/s below 400 GiB) and whether
    # Performance Insights is on; moto reports none of them, and amazon.aws.rds_instance compares
    # them on an existing instance (so it modified the instance on every run).
    original_instance_init = DBInstance.__init__

    def init_like_aws(self, *args, **kwargs):
        original_instance_init(self, *args, **kwargs)
        self.performance_insights_enabled = bool(kwargs.get("enable_performance_insights"))
        if self.storage_type == "gp3":
            self.iops = self.iops or 3000
            self.storage_throughput = self.storage_throughput or 125

    DBInstance.__init__ = init_like_aws

    # Valkey replication groups: one set of fixes, shared with the module's unit tests.
    sys.path.append(str(ROOT / "collections"))
    from ansible_collections.sage.infra.tests.unit import moto_elasticache

    moto_elasticache.patch_moto_gaps()

    # ECS services with deployment settings and rollouts that progress (and fail) like AWS's.
    from ansible_collections.sage.infra.tests.unit import moto_ecs

    moto_ecs.patch_moto_gaps()

    # Log groups' KMS keys set after creation (AssociateKmsKey), which moto does not implement.
    from ansible_collections.sage.infra.tests.unit import moto_logs

    moto_logs.patch_moto_gaps()

    # NAT gateways, RDS instances and Valkey groups that take time to become available, as on AWS.
    moto_timing.patch_moto()

    # AWS returns {"Return": true}; moto an empty body, which amazon.aws.ec2_security_group reads.
    for name in ("update_security_group_rule_descriptions_ingress", "update_security_group_rule_descriptions_egress"):
        original = getattr(SecurityGroups, name)

        def answer_return(self, _original=original):
            _original(self)
            return ActionResult({"Return": True})

        setattr(SecurityGroups, name, answer_return)

    # An ALB on AWS describes all its attributes with their defaults; moto leaves some out, and
    # amazon.aws.elb_application_lb indexes into them (KeyError 'idle_timeout_timeout_seconds').
    from moto.elbv2.models import FakeLoadBalancer

    original_lb_init = FakeLoadBalancer.__init__

    def init_with_alb_defaults(self, *args, **kwargs):
        original_lb_init(self, *args, **kwargs)
        if self.type == "application":
            self.attrs = {**ALB_DEFAULT_ATTRIBUTES, **self.attrs}

    FakeLoadBalancer.__init__ = init_with_alb_defaults

    # AWS keeps a function's DeadLetterConfig and returns it in GetFunction; moto drops it, so
    # amazon.aws.lambda updated the function on every run.
    from moto.awslambda.models import LambdaFunction

    original_function_init = LambdaFunction.__init__
    original_configuration = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def init_with_dead_letter(self, account_id, spec, *args, **kwargs):
        original_function_init(self, account_id, spec, *args, **kwargs)
        self.dead_letter_target = (spec.get("DeadLetterConfig") or {}).get("TargetArn", "")

    def configuration_with_dead_letter(self, *args, **kwargs):
        config = original_configuration(self, *args, **kwargs)
        if getattr(self, "dead_letter_target", ""):
            config["DeadLetterConfig"] = {"TargetArn": self.dead_letter_target}
        return config

    def update_with_dead_letter(self, config_updates):
        if "DeadLetterConfig" in config_updates:
            self.dead_letter_target = config_updates["DeadLetterConfig"].get("TargetArn", "")
        return original_update(self, config_updates)

    LambdaFunction.__init__ = init_with_dead_letter
    LambdaFunction.get_configuration = configuration_with_dead_letter
    LambdaFunction.update_configuration = update_with_dead_letter

    # moto evaluates only StringEquals in bucket policies and takes any other condition as met, so the
    # backup bucket's "deny when aws:SecureTransport is false" denied every object request. Requests to
    # the emulator stand for TLS requests to S3: that statement is left out of the evaluation.
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def insecure_transport_only(statement):
        condition = statement.get("Condition") or {}
        value = (condition.get("Bool") or {}).get("aws:SecureTransport")
        return list(condition) == ["Bool"] and str(value).lower() in ("false", "['false']")

    def permission_over_tls(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        kept = [statement for statement in statements if not insecure_transport_only(statement)]
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = permission_over_tls

    # moto's check that a logging target's policy lets S3 deliver reads every statement's Principal as a dict, and
    # fails (500) on a bucket whose policy also has a statement for Principal "*" (the TLS-only one). The same check,
    # skipping those statements.
    def log_delivery_allowed(target_bucket, target_prefix):
        document = json.loads(target_bucket.policy.decode()) if target_bucket.policy else {}
        arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
        return any(
            isinstance(statement.get("Principal"), dict)
            and statement["Principal"].get("Service") == "logging.s3.amazonaws.com"
            and statement.get("Effect") == "Allow"
            and "s3:PutObject" in statement.get("Action", [])
            and statement.get("Resource") in (f"{arn}/{target_prefix or ''}*", f"{arn}/*", arn)
            for statement in document.get("Statement", [])
        )

    FakeBucket._log_permissions_enabled_policy = staticmethod(log_delivery_allowed)


def serve(host: str, port: int) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    patch_moto_gaps()
    app = CallRecorder(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    print(f"AWS emulator listening on http://{host}:{port}", flush=True)
    server.serve_forever()


def client(endpoint: str, service: str, **kwargs):
    """A boto3 client for the emulator (or a proxy in front of it): test credentials, the stack's region."""
    import boto3  # not at the top: the emulator's own process has no use for it

    return boto3.client(
        service,
        region_name="us-west-2",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kwargs,
    )


def answers(endpoint: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout):
            return True
    except (urllib.error.URLError, OSError):
        return False


class Emulator:
    """A running emulator process and the helpers tests use on it."""

    def __init__(self, endpoint: str, process: subprocess.Popen | None = None):
        self.endpoint = endpoint
        self.process = process
        # Bumped by reset_state: lets a fixture tell whether the stack it converged is still there.
        self.generation = 0

    def _post(self, path: str) -> bytes:
        request = urllib.request.Request(f"{self.endpoint}{path}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def calls(self) -> list[dict[str, str]]:
        with urllib.request.urlopen(f"{self.endpoint}/_sage/calls", timeout=30) as response:
            return json.loads(response.read())

    def mutating_calls(self) -> list[dict[str, str]]:
        return [c for c in self.calls() if is_mutating(c["action"])]

    def configure_rollout(
        self,
        seconds: float | None = None,
        failing_images: list[str] | None = None,
        alarming_images: dict[str, list[str]] | None = None,
    ) -> None:
        """How long an ECS rollout takes, which images fail to start (a rollout the circuit breaker fails), and
        which start but set CloudWatch alarms off ({image: [alarm, ...]}: a rollout its deployment alarms fail)."""
        settings = {"seconds": seconds, "failing_images": failing_images, "alarming_images": alarming_images}
        body = json.dumps(settings).encode()
        request = urllib.request.Request(f"{self.endpoint}/_sage/ecs/rollout", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def configure_timing(self, **seconds: float) -> dict:
        """How long new resources take to become available, in seconds per kind of moto_timing.KINDS
        (nat, rds, valkey, modify; 0 = at once). Kinds not given keep their setting."""
        body = json.dumps(seconds).encode()
        request = urllib.request.Request(f"{self.endpoint}/_sage/timing", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["seconds"]

    def timing(self) -> dict:
        """The delays and the delayed resources: {"seconds": {...}, "resources": [{kind, id, status, start, ...}]}."""
        with urllib.request.urlopen(f"{self.endpoint}/_sage/timing", timeout=30) as response:
            return json.loads(response.read())

    def reset_calls(self) -> None:
        self._post("/_sage/calls/reset")

    def reset_state(self) -> None:
        """Forget every AWS resource (moto's reset), the call record and the delays."""
        self._post("/moto-api/reset")
        self.configure_rollout(seconds=1.0, failing_images=[], alarming_images={})
        self._post("/_sage/timing/reset")
        self.reset_calls()
        self.generation += 1

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(port: int | None = None, log_path: Path | None = None) -> Emulator:
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.harness.emulator", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not answers(endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the AWS emulator did not start on {endpoint}")
        time.sleep(0.2)
    return Emulator(endpoint, process)


@contextmanager
def running(port: int | None = None):
    emulator = start(port)
    try:
        yield emulator
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emulator", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="serve in the foreground")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=5000)
    run_cmd = sub.add_parser("run", help="run a command against a fresh emulator on a free port")
    run_cmd.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.port)
        return 0
    cmd = [c for c in args.cmd if c != "--"] if args.cmd[:1] == ["--"] else args.cmd
    with running() as emulator:
        env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint)
        return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
