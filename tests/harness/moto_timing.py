"""Real-AWS timing for the emulator: what AWS takes minutes to build is not there at once.

moto makes every resource ``available`` the moment it is created. With a delay set here (seconds per
kind, 0 = moto's instant behaviour, the default):

- ``nat``: a new NAT gateway is ``pending`` and shows only its allocation id (no public IP, network
  interface or private IP yet) until the delay has passed;
- ``rds``: a new DB instance is ``creating`` with no ``Endpoint`` for the first 80 % of the delay, then
  ``backing-up`` (endpoint shown) until the delay has passed, as on AWS;
- ``valkey``: a new replication group is ``creating`` with no primary, reader or node endpoint;
- ``modify``: ModifyDBInstance and ModifyReplicationGroup with ApplyImmediately leave the resource
  ``modifying`` for that long;
- ``rds_delete``: a deleted DB instance is still listed, ``deleting``, for that long (its log entry's
  ``available`` is when it is gone).

As on AWS, ModifyDBInstance and ModifyReplicationGroup are refused while the resource is not
``available``. States are computed when a resource is read, so nothing runs in the background. Each
delayed resource is logged (kind, id, status, start and available times on the emulator's
``time.monotonic`` clock, the clock of the call record) so that tests can tell when it became available.
The emulator serves the settings on ``POST /_sage/timing`` (``GET``: settings and log,
``POST /_sage/timing/reset``: all delays 0 and an empty log).
"""

from __future__ import annotations

import threading
import time

KINDS = ("nat", "rds", "valkey", "modify", "rds_delete")
DELAYS = dict.fromkeys(KINDS, 0.0)
# Share of an RDS creation spent in "creating" (no endpoint); the rest is "backing-up".
RDS_CREATING_SHARE = 0.8
LOG: list[dict] = []
_LOCK = threading.Lock()


def configure(**seconds) -> dict:
    """Set the delay of some kinds (seconds, 0 = available at once); return the settings."""
    unknown = set(seconds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}")
    for kind, value in seconds.items():
        if value is None:
            continue
        if float(value) < 0:
            raise ValueError(f"{kind} must not be negative; got {value}")
        DELAYS[kind] = float(value)
    return dict(DELAYS)


def reset() -> None:
    """Every delay back to 0 (moto's instant resources) and an empty log."""
    DELAYS.update(dict.fromkeys(KINDS, 0.0))
    with _LOCK:
        LOG.clear()


def state() -> dict:
    with _LOCK:
        return {"seconds": dict(DELAYS), "resources": [dict(entry) for entry in LOG]}


def _start(obj, kind: str, identifier: str, phases: list[tuple[str, float]]) -> None:
    """Put obj through phases [(status, seconds), ...] from now on, and log it."""
    now = until = time.monotonic()
    timeline = []
    for status, seconds in phases:
        until += seconds
        timeline.append((status, until))
    obj._sage_phases = timeline
    with _LOCK:
        LOG.append({"kind": kind, "id": identifier, "status": phases[0][0], "start": now, "available": until})


def _phase(obj) -> str | None:
    """The transitional status obj is in now, or None once it has gone through all of them."""
    for status, until in obj.__dict__.get("_sage_phases") or ():
        if time.monotonic() < until:
            return status
    return None


def _timed_attribute(cls, name: str) -> None:
    """Make cls.<name> (a plain attribute moto sets) report the current phase while there is one.

    An explicit assignment by moto (a deletion, a stop) ends the phase."""
    slot = f"_sage_{name}"

    def get(self):
        return _phase(self) or self.__dict__.get(slot)

    def set_(self, value):
        self.__dict__[slot] = value
        self.__dict__.pop("_sage_phases", None)

    setattr(cls, name, property(get, set_))


def _hidden_while(cls, name: str, statuses: tuple[str, ...], view) -> None:
    """Make the property cls.<name> answer view(self, value) while the object is in one of statuses."""
    original = getattr(cls, name, None)

    def get(self):
        value = original.fget(self) if isinstance(original, property) else self.__dict__.get(f"_sage_{name}")
        return view(self, value) if _phase(self) in statuses else value

    def set_(self, value):
        self.__dict__[f"_sage_{name}"] = value

    setattr(cls, name, property(get, set_))


def _without_endpoints(_group, node_groups):
    return [
        {
            **{key: value for key, value in group.items() if "endpoint" not in key and key != "node_group_members"},
            "status": "creating",
            "node_group_members": [
                {key: value for key, value in member.items() if "endpoint" not in key}
                for member in group.get("node_group_members", [])
            ],
        }
        for group in node_groups or []
    ]


def patch_moto() -> None:
    """Install the delays in moto's NAT gateway, DB instance and replication group models (moto 5.2)."""
    from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend
    from moto.elasticache.exceptions import ElastiCacheException
    from moto.elasticache.models import ElastiCacheBackend, ReplicationGroup
    from moto.elasticache.responses import ElastiCacheResponse
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import DBInstance, RDSBackend

    class InvalidReplicationGroupState(ElastiCacheException):
        code = "InvalidReplicationGroupState"

    _timed_attribute(NatGateway, "state")
    _timed_attribute(DBInstance, "status")
    _timed_attribute(ReplicationGroup, "status")
    _hidden_while(
        NatGateway,
        "nat_gateway_addresses",
        ("pending",),
        lambda _nat, addresses: [{"allocationId": a["allocationId"]} for a in addresses if a.get("allocationId")],
    )
    _hidden_while(DBInstance, "endpoint", ("creating",), lambda _db, _endpoint: None)
    _hidden_while(ReplicationGroup, "node_groups", ("creating",), _without_endpoints)

    original_nat = NatGatewayBackend.create_nat_gateway
    original_db = RDSBackend.create_db_instance
    original_db_modify = RDSBackend.modify_db_instance
    original_db_delete = RDSBackend.delete_db_instance
    original_db_describe = RDSBackend.describe_db_instances
    original_group = ElastiCacheBackend.create_replication_group
    original_group_modify = ElastiCacheResponse.modify_replication_group

    def create_nat_gateway(self, *args, **kwargs):
        nat = original_nat(self, *args, **kwargs)
        if DELAYS["nat"]:
            _start(nat, "nat", nat.id, [("pending", DELAYS["nat"])])
        return nat

    def create_db_instance(self, db_kwargs):
        database = original_db(self, db_kwargs)
        seconds = DELAYS["rds"]
        if seconds:
            phases = [("creating", seconds * RDS_CREATING_SHARE), ("backing-up", seconds * (1 - RDS_CREATING_SHARE))]
            _start(database, "rds", database.db_instance_identifier, phases)
        return database

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        database = self.describe_db_instances(db_instance_identifier)[0]
        if database.status != "available":
            raise RDSClientError("InvalidDBInstanceState", "Database instance is not in available state.")
        database = original_db_modify(self, db_instance_identifier, db_kwargs)
        if DELAYS["modify"] and db_kwargs.get("apply_immediately"):
            _start(database, "rds", database.db_instance_identifier, [("modifying", DELAYS["modify"])])
        return database

    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):
        database = original_db_delete(self, db_instance_identifier, *args, **kwargs)
        if DELAYS["rds_delete"]:
            _start(database, "rds_delete", db_instance_identifier, [("deleting", DELAYS["rds_delete"])])
            database.__dict__["_sage_deleted"] = True
            self.databases[db_instance_identifier] = database  # still listed until the delay has passed
        return database

    def describe_db_instances(self, db_instance_identifier=None, filters=None):
        for identifier, database in list(self.databases.items()):
            if database.__dict__.get("_sage_deleted") and _phase(database) is None:
                del self.databases[identifier]
        return original_db_describe(self, db_instance_identifier, filters)

    def create_replication_group(self, **kwargs):
        group = original_group(self, **kwargs)
        if DELAYS["valkey"]:
            _start(group, "valkey", group.replication_group_id, [("creating", DELAYS["valkey"])])
        return group

    def modify_replication_group(self):
        group = self.elasticache_backend.replication_groups.get(self._get_param("ReplicationGroupId"))
        if group is not None and group.status != "available":
            raise InvalidReplicationGroupState(f"Replication group {group.replication_group_id} is {group.status}.")
        result = original_group_modify(self)
        if group is not None and DELAYS["modify"] and self._get_bool_param("ApplyImmediately"):
            _start(group, "valkey", group.replication_group_id, [("modifying", DELAYS["modify"])])
        return result

    NatGatewayBackend.create_nat_gateway = create_nat_gateway
    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.modify_db_instance = modify_db_instance
    RDSBackend.delete_db_instance = delete_db_instance
    RDSBackend.describe_db_instances = describe_db_instances
    ElastiCacheBackend.create_replication_group = create_replication_group
    ElastiCacheResponse.modify_replication_group = modify_replication_group
