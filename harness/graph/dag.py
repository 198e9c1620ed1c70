"""A small, pure directed acyclic graph: deterministic order, upstream/downstream queries, cycle paths.

No Spark here: the graph builder feeds it dataset names and read edges, the runner asks it what may
run next. Order is deterministic (ties broken by name) so two runs schedule flows identically.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from harness.errors import CircularDependencyError


class DAG:
    """Nodes are names; an edge u -> v means v reads u (u must be computed first)."""

    def __init__(self, nodes: Iterable[str] = (), edges: Iterable[tuple[str, str]] = ()) -> None:
        self._down: dict[str, set[str]] = {}
        self._up: dict[str, set[str]] = {}
        for node in nodes:
            self.add_node(node)
        for upstream, downstream in edges:
            self.add_edge(upstream, downstream)

    def add_node(self, node: str) -> None:
        self._down.setdefault(node, set())
        self._up.setdefault(node, set())

    def add_edge(self, upstream: str, downstream: str) -> None:
        self.add_node(upstream)
        self.add_node(downstream)
        self._down[upstream].add(downstream)
        self._up[downstream].add(upstream)

    @property
    def nodes(self) -> list[str]:
        return sorted(self._down)

    def upstream(self, node: str) -> set[str]:
        return set(self._up[node])

    def downstream(self, node: str) -> set[str]:
        return set(self._down[node])

    def ancestors(self, node: str) -> set[str]:
        return self._closure(node, self._up)

    def descendants(self, node: str) -> set[str]:
        return self._closure(node, self._down)

    @staticmethod
    def _closure(node: str, adjacency: Mapping[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(adjacency[node])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(adjacency[current])
        return seen

    def find_cycle(self) -> list[str] | None:
        """A cycle as a path [a, b, ..., a], or None. Deterministic: explores nodes by name."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self._down, white)
        parent: dict[str, str] = {}
        for start in self.nodes:
            if color[start] != white:
                continue
            stack: list[tuple[str, list[str]]] = [(start, sorted(self._down[start]))]
            color[start] = grey
            while stack:
                node, children = stack[-1]
                if not children:
                    color[node] = black
                    stack.pop()
                    continue
                child = children.pop(0)
                if color[child] == white:
                    color[child] = grey
                    parent[child] = node
                    stack.append((child, sorted(self._down[child])))
                elif color[child] == grey:
                    path = [child, node]
                    while path[-1] != child:
                        path.append(parent[path[-1]])
                    return list(reversed(path))
        return None

    def topological_order(self) -> list[str]:
        """All nodes, upstream first; raises CircularDependencyError with the cycle's path."""
        cycle = self.find_cycle()
        if cycle:
            raise CircularDependencyError(cycle)
        indegree = {node: len(ups) for node, ups in self._up.items()}
        ready = [node for node, degree in indegree.items() if degree == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in self._down[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, child)
        return order

    def subgraph(self, keep: Iterable[str]) -> DAG:
        kept = set(keep)
        return DAG(
            kept,
            ((u, v) for u in kept for v in self._down[u] if v in kept),
        )
