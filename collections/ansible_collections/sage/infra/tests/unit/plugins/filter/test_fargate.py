# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the fargate_size_errors filter."""

import pytest
from ansible_collections.sage.infra.plugins.filter.fargate import fargate_size_errors


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        (256, 512),
        (256, 2048),
        ("512", "1024"),
        (512, 4096),
        (1024, 8192),
        (2048, 5120),
        (4096, 30720),
        (8192, 61440),
        (16384, 122880),
    ],
)
def test_accepted_pairs(cpu, memory):
    assert fargate_size_errors(cpu, memory) == []


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        (256, 4096, "ecs_task_memory 4096 does not go with ecs_task_cpu 256 on Fargate: use 512, 1024, 2048 (MiB)"),
        (
            512,
            512,
            "ecs_task_memory 512 does not go with ecs_task_cpu 512 on Fargate: use 1024 to 4096 in steps of 1024",
        ),
        (1024, 2500, "ecs_task_memory 2500 does not go with ecs_task_cpu 1024"),
        (8192, 20000, "use 16384 to 61440 in steps of 4096"),
        (300, 1024, "ecs_task_cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 (Fargate cpu units), got 300"),
        ("half", 1024, "ecs_task_cpu and ecs_task_memory must be whole numbers, got 'half' and 1024"),
    ],
)
def test_rejected_pairs_name_the_variables(cpu, memory, expected):
    errors = fargate_size_errors(cpu, memory, "ecs_task_cpu", "ecs_task_memory")
    assert len(errors) == 1
    assert expected in errors[0]
