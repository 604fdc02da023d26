/**
 * A layered layout of a pipeline's graph for the run monitor: each step sits one
 * layer below the furthest step that leads to it. Back edges (loops) are drawn
 * but do not push steps down.
 */

export interface GraphStep {
  id: string;
}

export interface GraphTransition {
  from: string;
  to: string;
  name?: string;
  /** The condition in words; absent when the transition always fires. */
  conditionText?: string;
}

export interface GraphDefinition {
  steps: GraphStep[];
  flow?: { startAt?: string; transitions: GraphTransition[] };
}

export interface PlacedNode {
  id: string;
  layer: number;
  column: number;
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  back: boolean;
  conditionText?: string;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 40;
const GAP_X = 30;
const GAP_Y = 50;
const MARGIN = 10;

/** The edges of a definition: its transitions, or the steps in order when it has none. */
export function edgesOf(definition: GraphDefinition): GraphTransition[] {
  const ids = new Set(definition.steps.map((s) => s.id));
  const transitions = definition.flow?.transitions ?? [];
  if (transitions.length === 0) {
    return definition.steps.slice(1).map((step, i) => ({ from: definition.steps[i].id, to: step.id }));
  }
  return transitions.filter((t) => ids.has(t.from) && ids.has(t.to));
}

export function layout(definition: GraphDefinition): Layout {
  const ids = definition.steps.map((s) => s.id);
  const edges = edgesOf(definition);
  const outgoing = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const edge of edges) {
    outgoing.get(edge.from)!.push(edge.to);
  }
  // Back edges are those that close a cycle in a depth-first walk from the start.
  const back = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const visit = (id: string): void => {
    state.set(id, "open");
    for (const next of outgoing.get(id) ?? []) {
      if (state.get(next) === "open") {
        back.add(`${id}->${next}`);
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    state.set(id, "done");
  };
  const start = definition.flow?.startAt && ids.includes(definition.flow.startAt) ? definition.flow.startAt : ids[0];
  for (const id of start ? [start, ...ids] : ids) {
    if (!state.has(id)) {
      visit(id);
    }
  }
  const forward = edges.filter((e) => !back.has(`${e.from}->${e.to}`));
  const layer = new Map<string, number>(ids.map((id) => [id, 0]));
  // Longest path over the acyclic forward edges; at most |steps| rounds.
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const edge of forward) {
      const candidate = layer.get(edge.from)! + 1;
      if (candidate > layer.get(edge.to)!) {
        layer.set(edge.to, candidate);
        changed = true;
      }
    }
    if (!changed) {
      break;
    }
  }
  const columns = new Map<number, number>();
  const nodes: PlacedNode[] = ids.map((id) => {
    const l = layer.get(id)!;
    const column = columns.get(l) ?? 0;
    columns.set(l, column + 1);
    return { id, layer: l, column, x: 0, y: 0 };
  });
  const widest = Math.max(1, ...columns.values());
  const width = MARGIN * 2 + widest * NODE_WIDTH + (widest - 1) * GAP_X;
  for (const node of nodes) {
    const count = columns.get(node.layer)!;
    const rowWidth = count * NODE_WIDTH + (count - 1) * GAP_X;
    node.x = (width - rowWidth) / 2 + node.column * (NODE_WIDTH + GAP_X);
    node.y = MARGIN + node.layer * (NODE_HEIGHT + GAP_Y);
  }
  const layers = nodes.length ? Math.max(...nodes.map((n) => n.layer)) + 1 : 0;
  return {
    nodes,
    edges: edges.map((e) => ({ from: e.from, to: e.to, back: back.has(`${e.from}->${e.to}`), conditionText: e.conditionText })),
    width,
    height: MARGIN * 2 + layers * NODE_HEIGHT + Math.max(0, layers - 1) * GAP_Y,
  };
}
