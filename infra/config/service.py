"""The app's Fargate service: image, port, task size, scaling and the seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader

_GIB = 1024
# Task CPU units -> (lowest, highest, step) memory in MiB, from the Fargate task-size table.
# 8 and 16 vCPU need platform 1.4.0, which LATEST resolves to.
_FARGATE_MEMORY = {
    256: (512, 2 * _GIB, None),
    512: (1 * _GIB, 4 * _GIB, _GIB),
    1024: (2 * _GIB, 8 * _GIB, _GIB),
    2048: (4 * _GIB, 16 * _GIB, _GIB),
    4096: (8 * _GIB, 30 * _GIB, _GIB),
    8192: (16 * _GIB, 60 * _GIB, 4 * _GIB),
    16384: (32 * _GIB, 120 * _GIB, 8 * _GIB),
}


def fargate_memory_choices(cpu: int) -> tuple[int, ...]:
    """Memory sizes (MiB) that Fargate accepts for a task CPU size; empty for an unknown size."""
    if cpu not in _FARGATE_MEMORY:
        return ()
    low, high, step = _FARGATE_MEMORY[cpu]
    if step is None:  # 0.25 vCPU takes exactly 512 MiB, 1 GiB or 2 GiB
        return (512, 1 * _GIB, 2 * _GIB)
    return tuple(range(low, high + 1, step))


FARGATE_CPU_SIZES = tuple(_FARGATE_MEMORY)


@dataclass(frozen=True)
class ServiceConfig:
    app_image: str
    app_port: int
    task_cpu: int
    task_memory: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    requests_per_target: int
    seed_revision: int
    fargate_spot: bool


# A Docker reference: [registry/]repository[:tag][@sha256:digest], lowercase repository path.
_IMAGE_PATTERN = (
    r"(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)


def _service(r: _Reader) -> dict[str, Any]:
    cpu = r.one_of("taskCpu", FARGATE_CPU_SIZES)
    memory = r.integer("taskMemory", 512, 122880, "must be a Fargate memory size in MiB")
    if cpu is not None and memory is not None and memory not in fargate_memory_choices(cpu):
        r.fail("taskMemory", memory,
               f"is not a valid Fargate size with tca:taskCpu = {cpu}; allowed: "
               f"{', '.join(map(str, fargate_memory_choices(cpu)))}")
        memory = None
    # 100 is a sanity bound, far below ECS's per-service limit, that catches typos.
    min_tasks = r.integer("minTasks", 1, 100)
    max_tasks = r.integer("maxTasks", 1, 100)
    if min_tasks is not None and max_tasks is not None and max_tasks < min_tasks:
        r.fail("maxTasks", max_tasks, f"must be at least tca:minTasks ({min_tasks})")
        max_tasks = None
    return dict(
        app_image=r.text("appImage", _IMAGE_PATTERN,
                         "must be a container image reference such as servian/techchallengeapp:0.11.0"),
        app_port=_app_port(r),
        task_cpu=cpu,
        task_memory=memory,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        cpu_target_percent=r.integer("cpuTargetPercent", 1, 100),
        requests_per_target=r.integer("requestsPerTarget", 1, 1_000_000),
        # Raising it re-runs `updatedb -s`, which erases every task; a bound keeps typos visible.
        seed_revision=r.integer("seedRevision", 1, 1_000_000),
        fargate_spot=r.boolean("fargateSpot"),
    )


def _app_port(r: _Reader) -> int | None:
    # The app runs as a non-root user with every capability dropped (ECS.5), so it cannot
    # bind a privileged port below 1024.
    return r.integer("appPort", 1024, 65535,
                     "must be a whole number from 1024 to 65535 (the app runs as a non-root user, "
                     "which cannot bind ports below 1024)")
