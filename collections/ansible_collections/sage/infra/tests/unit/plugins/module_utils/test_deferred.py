# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deferred filter imports its module_utils at its first call, not when its filter file is loaded."""

import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.sage.infra.plugins.module_utils import deferred as deferred_module
from ansible_collections.sage.infra.plugins.module_utils.deferred import deferred


def test_a_deferred_function_calls_the_module_utils_function_by_name():
    ids_by = deferred("stack_ec2", "ids_by")
    from ansible_collections.sage.infra.plugins.module_utils.stack_ec2 import ids_by as the_function

    items = [{"tier": "public", "id": "subnet-1"}, {"tier": "private", "id": "subnet-2"}]
    assert ids_by.__name__ == "ids_by"
    assert ids_by(items, "tier") == the_function(items, "tier")


def test_loading_a_filter_file_imports_its_module_utils_only_when_a_filter_runs():
    script = """
import sys
from ansible_collections.sage.infra.plugins.filter.monitoring import FilterModule
filters = FilterModule().filters()
before = "ansible_collections.sage.infra.plugins.module_utils.monitoring" in sys.modules
filters["node_metric_queries"](["n1"], "CacheClusterId", "AWS/ElastiCache", "CPU", 60, "Average", "worst")
print(before, "ansible_collections.sage.infra.plugins.module_utils.monitoring" in sys.modules)
"""
    collections = Path(deferred_module.__file__).parents[5]
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(collections)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "True"]
