# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks a Fargate task size (cpu units, memory MiB) against the pairs Fargate accepts."""

# cpu units -> the memory sizes (MiB) Fargate accepts with it, from the ECS developer guide.
FARGATE_SIZES = {
    256: (512, 1024, 2048),
    512: range(1024, 4096 + 1, 1024),
    1024: range(2048, 8192 + 1, 1024),
    2048: range(4096, 16384 + 1, 1024),
    4096: range(8192, 30720 + 1, 1024),
    8192: range(16384, 61440 + 1, 4096),
    16384: range(32768, 122880 + 1, 8192),
}


def fargate_size_errors(cpu, memory, cpu_var="cpu", memory_var="memory"):
    """A list of messages (empty when the pair is valid) naming the variables."""
    try:
        cpu, memory = int(cpu), int(memory)
    except (TypeError, ValueError):
        return [f"{cpu_var} and {memory_var} must be whole numbers, got {cpu!r} and {memory!r}"]
    if cpu not in FARGATE_SIZES:
        return [f"{cpu_var} must be one of {', '.join(map(str, FARGATE_SIZES))} (Fargate cpu units), got {cpu}"]
    choices = FARGATE_SIZES[cpu]
    if memory not in choices:
        if isinstance(choices, range):
            shown = f"{choices.start} to {choices.stop - 1} in steps of {choices.step}"
        else:
            shown = ", ".join(map(str, choices))
        return [f"{memory_var} {memory} does not go with {cpu_var} {cpu} on Fargate: use {shown} (MiB)"]
    return []


class FilterModule:
    def filters(self):
        return {"fargate_size_errors": fargate_size_errors}
