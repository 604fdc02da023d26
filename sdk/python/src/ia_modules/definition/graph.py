"""The step graph of a pipeline, computed once per validation.

Nodes are step indexes. Edges are transitions and error routes. The graph answers
what validation asks, in about linear time: which steps the start reaches, which
steps are upstream of a step (have certainly been reached before it), and which
cycles lack a bound.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Edge:
    source: int
    target: int
    path: str
    """Where the edge is declared, for findings: a transition or an `on_error`."""
    bounded: bool = False
    """True when the edge itself limits how often it is taken (a transition's max_iterations)."""


class Graph:
    """Reachability, upstream steps and cycles of a step graph; see the module docstring."""

    def __init__(self, size: int, edges: list[Edge]) -> None:
        self.size = size
        self.edges = edges
        self.successors: list[list[int]] = [[] for _ in range(size)]
        for edge in edges:
            self.successors[edge.source].append(edge.target)
        self._component, components = _strongly_connected(size, self.successors)
        self._upstream = self._upstream_masks(components)

    def reachable(self, start: int) -> set[int]:
        """Steps reachable from `start`, itself included."""
        seen = {start}
        queue = deque([start])
        while queue:
            for nxt in self.successors[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    def is_upstream(self, earlier: int, later: int) -> bool:
        """True when `earlier` leads to `later`, so it has run before `later` whenever both run.

        A step in a loop is upstream of itself.
        """
        return bool(self._upstream[later] >> earlier & 1)

    def _upstream_masks(self, components: list[list[int]]) -> list[int]:
        # Tarjan's algorithm yields components sinks first; reversed, each component's
        # predecessors come before it, so one pass of bitset unions computes ancestors.
        component_of = self._component
        predecessors: list[set[int]] = [set() for _ in components]
        for edge in self.edges:
            a, b = component_of[edge.source], component_of[edge.target]
            if a != b:
                predecessors[b].add(a)
        members = [sum(1 << node for node in nodes) for nodes in components]
        ancestors = [0] * len(components)
        for c in range(len(components) - 1, -1, -1):
            mask = 0
            for p in predecessors[c]:
                mask |= ancestors[p] | members[p]
            if _is_cycle(components[c], self.successors):
                mask |= members[c]
            ancestors[c] = mask
        return [ancestors[component_of[node]] for node in range(self.size)]

    def unbounded_cycles(self) -> list[tuple[list[int], Edge]]:
        """Cycles that no bounded edge breaks: each as (steps in order, the edge closing it)."""
        free_edges = [edge for edge in self.edges if not edge.bounded]
        successors: list[list[int]] = [[] for _ in range(self.size)]
        for edge in free_edges:
            successors[edge.source].append(edge.target)
        _component, components = _strongly_connected(self.size, successors)
        cycles = []
        for nodes in reversed(components):
            if _is_cycle(nodes, successors):
                cycles.append(_one_cycle(set(nodes), free_edges))
        cycles.sort(key=lambda cycle: min(cycle[0]))
        return cycles


def _is_cycle(nodes: list[int], successors: list[list[int]]) -> bool:
    return len(nodes) > 1 or nodes[0] in successors[nodes[0]]


def _one_cycle(nodes: set[int], edges: list[Edge]) -> tuple[list[int], Edge]:
    """A shortest cycle through the first step of a strongly connected set."""
    start = min(nodes)
    inner: dict[int, list[Edge]] = {}
    for edge in edges:
        if edge.source in nodes and edge.target in nodes:
            inner.setdefault(edge.source, []).append(edge)
    came_by: dict[int, Edge] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in inner.get(node, []):
            if edge.target == start:
                order = [node]
                while order[-1] != start:
                    order.append(came_by[order[-1]].source)
                return list(reversed(order)), edge
            if edge.target not in came_by:
                came_by[edge.target] = edge
                queue.append(edge.target)
    raise AssertionError("a strongly connected set always has a cycle")  # pragma: no cover


def _strongly_connected(size: int, successors: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Tarjan's algorithm without recursion: (component of each node, components sinks first)."""
    index = [-1] * size
    low = [0] * size
    on_stack = [False] * size
    stack: list[int] = []
    component = [-1] * size
    components: list[list[int]] = []
    counter = 0
    for root in range(size):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            recurse = False
            children = successors[node]
            while position < len(children):
                child = children[position]
                position += 1
                if index[child] == -1:
                    work.append((node, position))
                    work.append((child, 0))
                    recurse = True
                    break
                if on_stack[child]:
                    low[node] = min(low[node], index[child])
            if recurse:
                continue
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component[member] = len(components)
                    members.append(member)
                    if member == node:
                        break
                components.append(members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return component, components
