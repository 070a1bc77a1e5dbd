"""The compute tier site.yml leaves on the emulator: ECR, logs, IAM, ALB, cluster, task definition, service."""

from __future__ import annotations

import json

STACK = "sage"
SERVICE = "sage-backend"
CLUSTER = "sage-cluster"
SECRET_NAMES = (
    "anthropic-api-key",
    "discord-webhook-errors",
    "discord-webhook-performance",
    "discord-webhook-business",
    "database-url",
    "valkey-url",
)


def service(aws):
    services = aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    assert len(services) == 1 and services[0]["status"] == "ACTIVE", services
    return services[0]


def task_definition(aws, arn=None):
    return aws("ecs").describe_task_definition(taskDefinition=arn or service(aws)["taskDefinition"])["taskDefinition"]


def subnet_ids(aws, tier):
    subnets = aws("ec2").describe_subnets(Filters=[{"Name": "tag:Tier", "Values": [tier]}])["Subnets"]
    return sorted(s["SubnetId"] for s in subnets)


def group_id(aws, name):
    groups = aws("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert len(groups) == 1
    return groups[0]["GroupId"]


def stack_secret_arns(aws):
    client = aws("secretsmanager")
    return sorted(client.describe_secret(SecretId=f"{STACK}/{name}")["ARN"] for name in SECRET_NAMES)


def test_service_runs_in_the_private_subnets_without_a_public_ip(converged, aws):
    vpc = service(aws)["networkConfiguration"]["awsvpcConfiguration"]
    assert sorted(vpc["subnets"]) == subnet_ids(aws, "private")
    assert vpc["securityGroups"] == [group_id(aws, f"{STACK}-ecs-sg")]
    assert vpc["assignPublicIp"] == "DISABLED"


def test_service_deploys_safely_behind_the_target_group(converged, aws):
    svc = service(aws)
    config = svc["deploymentConfiguration"]
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert (config["minimumHealthyPercent"], config["maximumPercent"]) == (100, 200)
    assert svc["healthCheckGracePeriodSeconds"] == 60
    assert svc["desiredCount"] == 1
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}]
    target_group = aws("elbv2").describe_target_groups(Names=[f"{STACK}-backend-tg"])["TargetGroups"][0]
    assert svc["loadBalancers"] == [
        {"targetGroupArn": target_group["TargetGroupArn"], "containerName": SERVICE, "containerPort": 3000}
    ]
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"


def test_target_group_checks_health_on_the_app_port(converged, aws):
    elbv2 = aws("elbv2")
    group = elbv2.describe_target_groups(Names=[f"{STACK}-backend-tg"])["TargetGroups"][0]
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", 3000)
    assert (group["HealthCheckPath"], group["Matcher"]["HttpCode"]) == ("/health", "200")
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
    }
    assert attributes["deregistration_delay.timeout_seconds"] == "30"


def test_load_balancer_is_public_and_drops_invalid_headers(converged, aws):
    elbv2 = aws("elbv2")
    alb = elbv2.describe_load_balancers(Names=[f"{STACK}-alb"])["LoadBalancers"][0]
    assert alb["Scheme"] == "internet-facing"
    assert sorted(zone["SubnetId"] for zone in alb["AvailabilityZones"]) == subnet_ids(aws, "public")
    assert alb["SecurityGroups"] == [group_id(aws, f"{STACK}-alb-sg")]
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=alb["LoadBalancerArn"])["Attributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "false"
    assert attributes["idle_timeout.timeout_seconds"] == "60"
    listeners = elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    assert [
        (listener["Protocol"], listener["Port"], listener["DefaultActions"][0]["Type"]) for listener in listeners
    ] == [("HTTP", 80, "forward")]
    assert alb["DNSName"] in converged.output, "site.yml prints the ALB's DNS name"


def test_task_definition_takes_every_secret_from_secrets_manager(converged, aws):
    definition = task_definition(aws)
    (container,) = definition["containerDefinitions"]
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert sorted(secrets) == [
        "ANTHROPIC_API_KEY",
        "DATABASE_URL",
        "DISCORD_WEBHOOK_BUSINESS",
        "DISCORD_WEBHOOK_ERRORS",
        "DISCORD_WEBHOOK_PERFORMANCE",
        "VALKEY_URL",
    ]
    assert sorted(secrets.values()) == stack_secret_arns(aws)
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["NODE_ENV"] == "production"
    assert environment["CACHE_TTL_MARKET_PRICE_SECONDS"] == "300"
    assert environment["CACHE_TTL_USER_CHAT_LIST_SECONDS"] == "30"
    assert not set(secrets) & set(environment)
    database_url = aws("secretsmanager").get_secret_value(SecretId=f"{STACK}/database-url")["SecretString"]
    assert database_url not in json.dumps(definition)


def test_task_definition_is_a_fargate_task_with_logs_and_a_health_check(converged, aws):
    definition = task_definition(aws)
    assert (definition["cpu"], definition["memory"], definition["networkMode"]) == ("512", "1024", "awsvpc")
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    (container,) = definition["containerDefinitions"]
    assert container["image"].endswith("/sage-backend:latest")
    assert container["portMappings"][0]["containerPort"] == 3000
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/sage-backend"
    assert "/health" in container["healthCheck"]["command"][1]
    assert definition["executionRoleArn"].endswith(f"role/{STACK}-ecs-task-execution")
    assert definition["taskRoleArn"].endswith(f"role/{STACK}-ecs-task")


def test_the_container_writes_only_to_its_tmp_volume(converged, aws):
    definition = task_definition(aws)
    (container,) = definition["containerDefinitions"]
    assert container["readonlyRootFilesystem"] is True
    assert [(m["sourceVolume"], m["containerPath"], m.get("readOnly", False)) for m in container["mountPoints"]] == [
        ("tmp", "/tmp", False)
    ]
    # A bind mount on the task's ephemeral storage: no host path, no EFS.
    assert [volume["name"] for volume in definition["volumes"]] == ["tmp"]
    assert all(not volume.get("host", {}).get("sourcePath") for volume in definition["volumes"])


def test_every_service_role_trusts_its_service_for_this_account_only(converged, aws):
    account = aws("sts").get_caller_identity()["Account"]
    roles = [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith(f"{STACK}-")]
    names = {r["RoleName"] for r in roles}
    assert names >= {f"{STACK}-{name}" for name in ("ecs-task", "ecs-task-execution", "vpc-flow-logs", "discord-alert")}
    for role in roles:
        document = aws("iam").get_role(RoleName=role["RoleName"])["Role"]["AssumeRolePolicyDocument"]
        for statement in document["Statement"]:
            assert set(statement["Principal"]) == {"Service"}, role["RoleName"]
            assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == account, role["RoleName"]
    flow_logs = aws("iam").get_role(RoleName=f"{STACK}-vpc-flow-logs")["Role"]["AssumeRolePolicyDocument"]
    (statement,) = flow_logs["Statement"]
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ec2:us-west-2:{account}:vpc-flow-log/*"}


def test_execution_role_reads_only_this_stacks_secrets(converged, aws):
    document = aws("iam").get_role_policy(RoleName=f"{STACK}-ecs-task-execution", PolicyName="pull-log-read-secrets")[
        "PolicyDocument"
    ]
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert sorted(statements["ReadThisStacksSecrets"]["Resource"]) == stack_secret_arns(aws)
    repository_arn = aws("ecr").describe_repositories(repositoryNames=["sage-backend"])["repositories"][0][
        "repositoryArn"
    ]
    assert statements["PullTheBackendImage"]["Resource"] == repository_arn
    assert statements["WriteTheServiceLogs"]["Resource"].endswith(":log-group:/ecs/sage-backend:log-stream:*")
    wildcard = [sid for sid, s in statements.items() if s["Resource"] == "*"]
    assert wildcard == ["RegistryLogin"], "only ecr:GetAuthorizationToken may name every resource"
    trust = aws("iam").get_role(RoleName=f"{STACK}-ecs-task-execution")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}


def test_task_role_has_no_permissions_by_default(converged, aws):
    assert aws("iam").list_role_policies(RoleName=f"{STACK}-ecs-task")["PolicyNames"] == []
    assert aws("iam").list_attached_role_policies(RoleName=f"{STACK}-ecs-task")["AttachedPolicies"] == []


def test_cluster_has_container_insights_and_fargate_providers(converged, aws):
    (cluster,) = aws("ecs").describe_clusters(clusters=[CLUSTER], include=["SETTINGS"])["clusters"]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


def test_registry_scans_and_keeps_the_newest_images(converged, aws):
    ecr = aws("ecr")
    repository = ecr.describe_repositories(repositoryNames=["sage-backend"])["repositories"][0]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    # A pushed SHA tag never moves; latest, which CI pushes with every build, does.
    assert repository["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repository["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "latest"}]
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName="sage-backend")["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20}


def test_log_group_has_the_environments_retention(converged, aws):
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/ecs/sage-backend")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [("/ecs/sage-backend", 1)]


def test_autoscaling_tracks_cpu_within_the_bounds(converged, aws):
    autoscaling = aws("application-autoscaling")
    resource = f"service/{CLUSTER}/{SERVICE}"
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    (policy,) = autoscaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"]
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 60.0
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"


def test_converging_again_registers_no_revision(converged, aws):
    """test_site.py re-runs site.yml (changed=0) on this same stack: still the first revision only."""
    arns = aws("ecs").list_task_definitions(familyPrefix=SERVICE, status="ACTIVE")["taskDefinitionArns"]
    assert len(arns) == 1, arns
