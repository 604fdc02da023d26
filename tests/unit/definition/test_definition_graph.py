"""The step graph: reachability, upstream steps and unbounded cycles."""

from ia_modules.definition.graph import Edge, Graph


def _graph(size, *pairs, bounded=()):
    edges = [Edge(a, b, f"e{i}", bounded=i in bounded) for i, (a, b) in enumerate(pairs)]
    return Graph(size, edges)


def test_reachability():
    graph = _graph(4, (0, 1), (1, 2))
    assert graph.reachable(0) == {0, 1, 2}
    assert graph.reachable(3) == {3}


def test_upstream_in_a_diamond():
    graph = _graph(4, (0, 1), (0, 2), (1, 3), (2, 3))
    assert graph.is_upstream(0, 3) and graph.is_upstream(1, 3) and graph.is_upstream(2, 3)
    assert not graph.is_upstream(1, 2)
    assert not graph.is_upstream(3, 0)
    assert not graph.is_upstream(0, 0)


def test_upstream_inside_a_loop_includes_the_step_itself():
    graph = _graph(4, (0, 1), (1, 2), (2, 1), (2, 3))
    assert graph.is_upstream(1, 1) and graph.is_upstream(2, 1)
    assert graph.is_upstream(0, 2) and graph.is_upstream(1, 3)
    assert not graph.is_upstream(3, 1)


def test_self_loop_is_a_cycle():
    graph = _graph(2, (0, 1), (1, 1))
    assert graph.is_upstream(1, 1)
    ((steps, edge),) = graph.unbounded_cycles()
    assert steps == [1] and edge.path == "e1"


def test_bounded_edges_break_cycles():
    assert _graph(3, (0, 1), (1, 2), (2, 0), bounded={2}).unbounded_cycles() == []
    assert _graph(3, (0, 1), (1, 2), (2, 0), bounded={0}).unbounded_cycles() == []


def test_a_second_path_around_a_bound_is_still_unbounded():
    graph = _graph(3, (0, 1), (1, 0), (1, 2), (2, 0), bounded={1})
    ((steps, edge),) = graph.unbounded_cycles()
    assert steps == [0, 1, 2] and edge.path == "e3"


def test_separate_cycles_are_each_reported_in_step_order():
    graph = _graph(5, (3, 4), (4, 3), (0, 1), (1, 0), (1, 3))
    cycles = graph.unbounded_cycles()
    assert [steps for steps, _edge in cycles] == [[0, 1], [3, 4]]


def test_a_long_chain_does_not_recurse():
    size = 5000
    graph = _graph(size, *[(i, i + 1) for i in range(size - 1)])
    assert graph.is_upstream(0, size - 1)
    assert not graph.is_upstream(size - 1, 0)
    assert graph.unbounded_cycles() == []
