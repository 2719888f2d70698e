"""CPU and memory of a service's process tree, with psutil."""

from __future__ import annotations

import psutil


class TreeSampler:
    """Keeps the psutil.Process objects between samples: cpu_percent measures since the last call."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def reset(self) -> None:
        self._procs = {}

    def sample(self, pid: int) -> tuple[float, int] | None:
        """(CPU %, RSS bytes) summed over the process and its children, or None if it is gone."""
        try:
            root = self._procs.get(pid) or psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        cpu = rss = 0.0
        fresh: dict[int, psutil.Process] = {}
        for p in tree:
            p = self._procs.get(p.pid, p)
            try:
                cpu += p.cpu_percent(None)
                rss += p.memory_info().rss
                fresh[p.pid] = p
            except psutil.Error:
                continue
        self._procs = fresh
        return round(cpu, 1), int(rss)
