# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""moto 5.2.5 ECS services, made to answer like AWS where sage.infra.ecs_service and the deploy playbook rely
on it. Used by the module's unit tests (with monkeypatch.setattr) and by the project's AWS emulator
(tests/harness/emulator.py, with setattr).

Deployments follow the rolling update (ECS deployment controller) of AWS: every deployment starts
IN_PROGRESS and is settled lazily, whenever the service is described, updated or deleted, once
``ROLLOUT["seconds"]`` have passed since it started. A deployment whose task definition runs an image of
``ROLLOUT["failing_images"]`` never gets its tasks running: with the deployment circuit breaker it becomes
FAILED (and, with rollback, ECS starts a deployment of the last completed task definition), without it it
stays IN_PROGRESS for ever. With deployment alarms (deploymentConfiguration.alarms enabled), a deployment fails
when one of the alarms is in ALARM as it settles and was not when it started (ECS ignores an alarm already in
ALARM then), and is rolled back as by the circuit breaker when the alarms ask for it. ``configure_rollout`` and
``reset`` change these settings (the emulator serves them on ``POST /_sage/ecs/rollout``).
"""

import copy
import math
import threading
import time
import uuid

from moto.core.utils import utcnow
from moto.ecs.exceptions import (
    EcsClientException,
    ECSException,
    InvalidParameterException,
    TaskDefinitionNotFoundException,
)
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.moto_api._internal import mock_random

DEFAULT_SECONDS = 1.0
ROLLOUT = {"seconds": DEFAULT_SECONDS, "failing_images": set(), "alarming_images": {}}
DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "alarms": {"alarmNames": [], "enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."
MAX_EVENTS = 100
# The emulator serves requests from several threads; a service changes under this lock.
_LOCK = threading.RLock()


class ServiceNotActiveException(ECSException):
    def __init__(self) -> None:
        super().__init__("ServiceNotActiveException", "Service was not ACTIVE.")


def configure_rollout(seconds=None, failing_images=None, alarming_images=None):
    """Set how long a deployment takes, which images fail to start, and which start but set alarms off
    ({image: [alarm name, ...]}: as soon as a deployment of such an image starts, the alarms go into ALARM, as
    CloudWatch would see the release answer badly); return the settings."""
    if seconds is not None:
        if float(seconds) < 0:
            raise ValueError(f"seconds must not be negative; got {seconds}")
        ROLLOUT["seconds"] = float(seconds)
    if failing_images is not None:
        if isinstance(failing_images, str):
            failing_images = [failing_images]
        ROLLOUT["failing_images"] = set(failing_images)
    if alarming_images is not None:
        ROLLOUT["alarming_images"] = {image: list(alarms) for image, alarms in alarming_images.items()}
    return rollout_config()


def rollout_config():
    """The settings, as JSON can carry them."""
    return {
        "seconds": ROLLOUT["seconds"],
        "failing_images": sorted(ROLLOUT["failing_images"]),
        "alarming_images": dict(ROLLOUT["alarming_images"]),
    }


def reset():
    """Back to the default settings (deployments take one second, no image fails)."""
    ROLLOUT["seconds"] = DEFAULT_SECONDS
    ROLLOUT["failing_images"] = set()
    ROLLOUT["alarming_images"] = {}


def _now():
    return time.monotonic()


def _meta(service):
    """What the shim remembers of a service, next to moto's attributes (the serializer ignores it)."""
    meta = getattr(service, "sage_rollout", None)
    if meta is None:
        meta = {
            "due": {},
            "rollbacks": set(),
            "last_completed": None,
            "drain_due": None,
            "stuck": set(),
            "alarmed_at_start": {},
        }
        service.sage_rollout = meta
    return meta


def _event(service, message):
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message})
    del service.events[MAX_EVENTS:]


def _is_fargate(service):
    if service.launch_type:
        return service.launch_type == "FARGATE"
    strategy = getattr(service, "capacity_provider_strategy", None) or []
    return any(item["capacityProvider"].startswith("FARGATE") for item in strategy)


def _recount(service):
    service.running_count = sum(d["runningCount"] for d in service.deployments)
    service.pending_count = sum(d["pendingCount"] for d in service.deployments)


def _primary(service):
    deployments = service.deployments
    return deployments[0] if deployments and deployments[0]["status"] == "PRIMARY" else None


def _start_deployment(service, started, reason=None, rollback=False):
    """Make a new PRIMARY deployment of the service's task definition; the former PRIMARY turns ACTIVE."""
    deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    now = utcnow()
    for deployment in service.deployments:
        deployment["status"] = "ACTIVE"
        deployment["updatedAt"] = now
    strategy = getattr(service, "capacity_provider_strategy", None)
    deployment = {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": service.task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": service.desired_count,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "capacityProviderStrategy": copy.deepcopy(strategy) if strategy else None,
        "launchType": service.launch_type,
        "platformVersion": service.platform_version,
        "platformFamily": "Linux" if _is_fargate(service) else None,
        "networkConfiguration": copy.deepcopy(service.network_configuration) or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }
    service.deployments.insert(0, deployment)
    meta = _meta(service)
    meta["due"][deployment_id] = started + ROLLOUT["seconds"]
    meta["alarmed_at_start"][deployment_id] = _alarms_in_alarm(service)
    _set_off_alarms(service)
    if rollback:
        meta["rollbacks"].add(deployment_id)
    _recount(service)
    return deployment


def _alarm_configuration(service):
    return (getattr(service, "deployment_configuration", None) or {}).get("alarms") or {}


def _alarms_in_alarm(service):
    """The service's deployment alarms that are in ALARM now (none when its deployment alarms are off)."""
    configuration = _alarm_configuration(service)
    if not configuration.get("enable"):
        return set()
    alarms = _cloudwatch(service).alarms
    return {
        name for name in configuration.get("alarmNames") or [] if name in alarms and alarms[name].state_value == "ALARM"
    }


def _account_and_region(service):
    """From the service's ARN, arn:<partition>:ecs:<region>:<account>:service/..."""
    parts = service.arn.split(":", 5)
    return parts[4], parts[3]


def _cloudwatch(service):
    from moto.cloudwatch.models import cloudwatch_backends

    account, region = _account_and_region(service)
    return cloudwatch_backends[account][region]


def _set_off_alarms(service):
    """The alarms the images of the service's task definition set off (ROLLOUT["alarming_images"]) go into ALARM."""
    if not ROLLOUT["alarming_images"]:
        return
    from moto.ecs.models import ecs_backends

    account, region = _account_and_region(service)
    backend = ecs_backends[account][region]
    try:
        images = {
            c.get("image") for c in backend.describe_task_definition(service.task_definition).container_definitions
        }
    except ECSException:
        return
    alarms = _cloudwatch(service).alarms
    for image in images:
        for name in ROLLOUT["alarming_images"].get(image, []):
            if name in alarms:
                alarms[name].update_state("Threshold crossed by the new release (emulated)", "{}", "ALARM")


def _fails(backend, service, deployment):
    """Whether the tasks of the deployment fail to start (an image of its task definition is failing)."""
    if not service.desired_count or not ROLLOUT["failing_images"]:
        return False
    try:
        task_definition = backend.describe_task_definition(deployment["taskDefinition"])
    except ECSException:
        return False
    images = {container.get("image") for container in task_definition.container_definitions}
    return bool(images & ROLLOUT["failing_images"])


def _complete(service, deployment):
    name, deployment_id = service.name, deployment["id"]
    deployment.update(
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {deployment_id} completed.",
        runningCount=service.desired_count,
        pendingCount=0,
        updatedAt=utcnow(),
    )
    service.deployments[:] = [deployment]
    meta = _meta(service)
    meta["last_completed"] = (deployment_id, deployment["taskDefinition"])
    _recount(service)
    _event(service, f"(service {name}) (deployment {deployment_id}) deployment completed.")
    _event(service, f"(service {name}) has reached a steady state.")


def _fail(service, deployment, reason=None):
    """FAILED by the circuit breaker (tasks failed to start), or for the reason given (an alarm: no task failed)."""
    threshold = min(200, max(3, math.ceil(service.desired_count / 2)))  # the circuit breaker's threshold
    deployment.update(
        rolloutState="FAILED",
        rolloutStateReason=reason or FAILED_REASON,
        failedTasks=0 if reason else threshold,
        runningCount=0,
        pendingCount=0,
        updatedAt=utcnow(),
    )
    _recount(service)
    what = "alarm detected" if reason else "tasks failed to start"
    _event(service, f"(service {service.name}) (deployment {deployment['id']}) deployment failed: {what}.")


def _stuck(service, deployment, since):
    """A failing deployment without circuit breaker: ECS keeps starting tasks that stop."""
    attempts = 1 + int((_now() - since) / max(ROLLOUT["seconds"], 0.001))
    deployment["failedTasks"] = max(service.desired_count, 1) * attempts
    meta = _meta(service)
    if deployment["id"] not in meta["stuck"]:
        meta["stuck"].add(deployment["id"])
        _event(
            service,
            f"(service {service.name}) is unable to consistently start tasks successfully. For more information, "
            "see the Troubleshooting section of the Amazon ECS Developer Guide.",
        )


def advance(backend, service):
    """Settle what has happened to the service since it was last looked at."""
    meta, now = _meta(service), _now()
    if service.status == "DRAINING":
        if meta["drain_due"] is not None and now >= meta["drain_due"]:
            service.status = "INACTIVE"
            for deployment in service.deployments:
                deployment.update(runningCount=0, pendingCount=0)
            _recount(service)
        return
    if service.status != "ACTIVE":
        return
    while True:
        deployment = _primary(service)
        if deployment is None or deployment["rolloutState"] != "IN_PROGRESS":
            return
        due = meta["due"].get(deployment["id"])
        if due is None or now < due:
            return
        alarms = sorted(_alarms_in_alarm(service) - meta["alarmed_at_start"].get(deployment["id"], set()))
        if not alarms and not _fails(backend, service, deployment):
            _complete(service, deployment)
            return
        if alarms:
            _fail(
                service,
                deployment,
                f"ECS deployment {deployment['id']} failed: alarm(s) detected: {', '.join(alarms)}.",
            )
            rollback, by = _alarm_configuration(service).get("rollback"), "alarm"
        else:
            breaker = (getattr(service, "deployment_configuration", None) or {}).get("deploymentCircuitBreaker") or {}
            if not breaker.get("enable"):
                _stuck(service, deployment, due)
                return
            _fail(service, deployment)
            rollback, by = breaker.get("rollback"), "circuit breaker"
        last = meta["last_completed"]
        if not rollback or last is None or deployment["id"] in meta["rollbacks"]:
            return
        last_id, last_task_definition = last
        service.task_definition = last_task_definition
        _event(service, f"(service {service.name}) rolling back to deployment {last_id}.")
        # The rollback starts when the failure is noticed, which may lie in the past: settle it too.
        _start_deployment(
            service,
            due,
            reason=f"ECS deployment {by}: rolling back to deploymentId {last_id}.",
            rollback=True,
        )


def _network(configuration):
    """The network configuration as AWS reports it (assignPublicIp defaults to DISABLED)."""
    if not configuration:
        return None
    configuration = copy.deepcopy(configuration)
    vpc = configuration.get("awsvpcConfiguration")
    if vpc is not None:
        vpc.setdefault("securityGroups", [])
        vpc.setdefault("assignPublicIp", "DISABLED")
    return configuration


def _deployment_configuration(requested):
    configuration = copy.deepcopy(DEFAULT_DEPLOYMENT_CONFIGURATION)
    for key, value in (requested or {}).items():
        if key in ("deploymentCircuitBreaker", "alarms"):
            configuration[key].update(value)
        else:
            configuration[key] = value
    return configuration


def _strategy(backend, cluster, strategy):
    """Check a capacity provider strategy like AWS and return it as AWS reports it."""
    if not strategy:
        return None
    associated = set(cluster.capacity_providers or [])
    for item in strategy:
        if item.get("capacityProvider") not in associated:
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
                "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
                "provider and try again."
            )
    if sum(1 for item in strategy if item.get("base")) > 1:
        raise InvalidParameterException("Only one capacity provider in a capacity provider strategy can have a base.")
    return [
        {"capacityProvider": item["capacityProvider"], "weight": item.get("weight", 0), "base": item.get("base", 0)}
        for item in strategy
    ]


def _active_task_definition(backend, task_definition):
    resolved = backend.describe_task_definition(task_definition)
    if resolved.status != "ACTIVE":
        raise EcsClientException("TaskDefinition is inactive")
    return resolved


def patch_moto_gaps(setattr_=setattr):
    """Make moto 5.2.5 ECS services behave like AWS where the module and the deploy playbook rely on it.

    - CreateService ignores deploymentConfiguration (AWS reports its defaults when omitted),
      healthCheckGracePeriodSeconds, capacityProviderStrategy (and the cluster's default strategy; it
      forces launchType EC2 instead), enableExecuteCommand and enableECSManagedTags: store and report them.
      Fargate services report platformVersion LATEST when none is given, the network configuration
      assignPublicIp DISABLED when omitted, and no networkConfiguration at all rather than {}.
    - CreateService replaces a service of the same name: AWS refuses while it is ACTIVE ("not idempotent")
      or DRAINING, and both a launch type and a capacity provider strategy, capacity providers not associated
      with the cluster and INACTIVE task definitions.
    - Deployments: moto's single deployment is COMPLETED at once only with MOTO_ECS_SERVICE_RUNNING, and
      UpdateService with a new task definition (or forceNewDeployment, or a new network configuration,
      platform version or load balancers) starts no deployment (forceNewDeployment only renames the
      PRIMARY one). Model the rolling update of AWS, circuit breaker and its automatic rollback included
      (see the module docstring), with service events.
    - UpdateService stores the task definition as given (family, family:revision) rather than its ARN,
      stores networkConfiguration unchecked, drops the rest of deploymentConfiguration, keeps launchType next
      to a capacity provider strategy, makes runningCount the new desiredCount at once, and updates
      services that are DRAINING or INACTIVE (AWS: ServiceNotActiveException).
    - DeleteService makes the service INACTIVE at once and deletes DRAINING/INACTIVE ones again: AWS sets
      desiredCount 0 and DRAINING, then INACTIVE once the tasks have stopped (after ``ROLLOUT["seconds"]``),
      and refuses to delete a service that is not ACTIVE. force=True deletes a service scaled above 0 (as in
      moto); without it AWS and moto refuse.
    - DescribeTaskDefinition with a family and no revision (and CreateService/UpdateService with one) takes
      the latest revision even when it is INACTIVE: AWS takes the latest ACTIVE one.
    """
    original_create = EC2ContainerServiceResponse.create_service
    original_update = EC2ContainerServiceBackend.update_service
    original_delete = EC2ContainerServiceBackend.delete_service
    original_describe = EC2ContainerServiceBackend.describe_services
    original_describe_task_definition = EC2ContainerServiceBackend.describe_task_definition

    def describe_task_definition(self, task_definition_str):
        family = task_definition_str.split("/")[-1]
        revisions = self.task_definitions.get(family) if ":" not in family else None
        if revisions:
            active = [revision for revision, definition in revisions.items() if definition.status == "ACTIVE"]
            if not active:
                raise TaskDefinitionNotFoundException()
            return revisions[max(active)]
        return original_describe_task_definition(self, task_definition_str)

    def create_service(self):
        backend = self.ecs_backend
        name = self._get_param("serviceName")
        launch_type = self._get_param("launchType")
        strategy = self._get_param("capacityProviderStrategy")
        with _LOCK:
            cluster = backend._get_cluster(self._get_param("cluster", "default"))
            if launch_type and strategy:
                raise InvalidParameterException(
                    "Specifying both a launch type and capacity provider strategy is not supported. "
                    "Remove one and try again."
                )
            existing = backend.services.get(f"{cluster.name}:{name}")
            if existing is not None:
                advance(backend, existing)
                if existing.status == "ACTIVE":
                    raise InvalidParameterException("Creation of service was not idempotent.")
                if existing.status == "DRAINING":
                    raise InvalidParameterException("Unable to Start a service that is still Draining.")
            if not launch_type and not strategy and cluster.default_capacity_provider_strategy:
                strategy = cluster.default_capacity_provider_strategy
            strategy = _strategy(backend, cluster, strategy)
            if self._get_param("taskDefinition"):
                _active_task_definition(backend, self._get_param("taskDefinition"))
            result = original_create(self)
            service = backend.services[f"{cluster.name}:{name}"]
            service.capacity_provider_strategy = strategy
            service.launch_type = None if strategy else (launch_type or "EC2")
            service.deployment_configuration = _deployment_configuration(self._get_param("deploymentConfiguration"))
            service.health_check_grace_period_seconds = self._get_param("healthCheckGracePeriodSeconds")
            service.enable_execute_command = bool(self._get_param("enableExecuteCommand"))
            service.enable_ecs_managed_tags = bool(self._get_param("enableECSManagedTags"))
            if _is_fargate(service) and not service.platform_version:
                service.platform_version = "LATEST"
            service.network_configuration = _network(service.network_configuration)
            service.created_at = utcnow()
            service.events = []
            service.deployments = []
            service.sage_rollout = None
            _start_deployment(service, _now())
            return result

    def update_service(self, service_properties):
        props = dict(service_properties)
        force = props.pop("force_new_deployment", False)
        with _LOCK:
            cluster = self._get_cluster(props.get("cluster", "default"))
            service = self._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
            advance(self, service)
            if service.status != "ACTIVE":
                raise ServiceNotActiveException()
            task_definition = props.get("task_definition")
            if task_definition:
                task_definition = props["task_definition"] = _active_task_definition(self, task_definition).arn
            configuration = props.get("deployment_configuration")
            strategy = props.get("capacity_provider_strategy")
            if strategy:
                strategy = _strategy(self, cluster, strategy)
            network = props.get("network_configuration")
            if network is not None:
                network = _network(service._validate_network(network))
            before = {
                "task_definition": service.task_definition,
                "network_configuration": service.network_configuration,
                "platform_version": service.platform_version,
                "load_balancers": copy.deepcopy(service.load_balancers),
                "launch_type": service.launch_type,
                "fargate": _is_fargate(service),
            }
            service = original_update(self, props)  # pops what it reads from props
            service.task_definition = task_definition or before["task_definition"]
            if network is not None:
                service.network_configuration = network
            if configuration is not None:
                service.deployment_configuration = _deployment_configuration(configuration)
            if strategy:
                service.capacity_provider_strategy = strategy
                service.launch_type = None
            elif strategy is not None:  # an empty list: back to the launch type
                service.capacity_provider_strategy = None
                service.launch_type = before["launch_type"] or ("FARGATE" if before["fargate"] else "EC2")
            if _is_fargate(service) and not service.platform_version:
                service.platform_version = "LATEST"
            changed = any(
                getattr(service, key) != value for key, value in before.items() if key not in ("launch_type", "fargate")
            )
            # The running deployment follows a new desired count; moto set runningCount to it at once.
            for deployment in service.deployments:
                if deployment["status"] == "PRIMARY":
                    deployment["desiredCount"] = service.desired_count
                    if deployment["rolloutState"] == "COMPLETED":
                        deployment.update(runningCount=service.desired_count, pendingCount=0)
                    elif deployment["rolloutState"] == "IN_PROGRESS":
                        running = deployment["runningCount"]
                        deployment["pendingCount"] = max(service.desired_count - running, 0)
            _recount(service)
            if changed or force:
                _start_deployment(service, _now())
            return service

    def delete_service(self, cluster_name, service_name, force):
        with _LOCK:
            service = self._get_service(cluster_name, service_name)
            advance(self, service)
            if service.status != "ACTIVE":
                raise ServiceNotActiveException()
            service = original_delete(self, cluster_name, service_name, force)
            service.status = "DRAINING"
            service.desired_count = 0
            for deployment in service.deployments:
                deployment["desiredCount"] = 0
            _meta(service)["drain_due"] = _now() + ROLLOUT["seconds"]
            _event(service, f"(service {service.name}) has begun draining connections on its tasks.")
            return service

    def describe_services(self, cluster_str, service_names_or_arns):
        with _LOCK:
            services, failures = original_describe(self, cluster_str, service_names_or_arns)
            for service in services:
                advance(self, service)
            return services, failures

    setattr_(EC2ContainerServiceBackend, "describe_task_definition", describe_task_definition)
    setattr_(EC2ContainerServiceResponse, "create_service", create_service)
    setattr_(EC2ContainerServiceBackend, "update_service", update_service)
    setattr_(EC2ContainerServiceBackend, "delete_service", delete_service)
    setattr_(EC2ContainerServiceBackend, "describe_services", describe_services)
