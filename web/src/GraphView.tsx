/** A laid-out pipeline graph as SVG: nodes coloured by a state class, focusable and selectable. */
import { NODE_HEIGHT, NODE_WIDTH, type Layout } from "./graph";

interface Props {
  graph: Layout;
  /** The state to colour a step by, e.g. "SUCCEEDED"; steps without one are PENDING. */
  stateOf?: (id: string) => string | undefined;
  selected?: string | null;
  onSelect?: (id: string) => void;
  label: string;
  start?: string;
}

export function GraphView({ graph, stateOf, selected, onSelect, label, start }: Props) {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  return (
    <div className="graph-wrap">
      <svg width={graph.width} height={graph.height} viewBox={`0 0 ${graph.width} ${graph.height}`} role="group" aria-label={label} data-testid="graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" className="arrow" />
          </marker>
        </defs>
        {graph.edges.map((edge, i) => {
          const a = byId.get(edge.from)!;
          const b = byId.get(edge.to)!;
          // A conditional edge is dashed, with its condition as the tooltip.
          const title = edge.conditionText ? <title>{`${edge.from} → ${edge.to}: ${edge.conditionText}`}</title> : null;
          const conditional = edge.conditionText ? " conditional" : "";
          if (edge.back) {
            const side = Math.max(a.x, b.x) + NODE_WIDTH + 15;
            return (
              <path
                key={i}
                className={`edge back${conditional}`}
                d={`M${a.x + NODE_WIDTH},${a.y + NODE_HEIGHT / 2} C${side},${a.y} ${side},${b.y + NODE_HEIGHT} ${b.x + NODE_WIDTH},${b.y + NODE_HEIGHT / 2}`}
                markerEnd="url(#arrow)"
              >
                {title}
              </path>
            );
          }
          return (
            <line
              key={i}
              className={`edge${conditional}`}
              x1={a.x + NODE_WIDTH / 2}
              y1={a.y + NODE_HEIGHT}
              x2={b.x + NODE_WIDTH / 2}
              y2={b.y}
              markerEnd="url(#arrow)"
            >
              {title}
            </line>
          );
        })}
        {graph.nodes.map((node) => {
          const state = stateOf?.(node.id) ?? "PENDING";
          return (
            <g
              key={node.id}
              className={`node state-${state.toLowerCase()}${selected === node.id ? " selected" : ""}`}
              data-step={node.id}
              data-state={state}
              transform={`translate(${node.x},${node.y})`}
              tabIndex={0}
              role="button"
              aria-pressed={selected === node.id}
              aria-label={`${node.id}${start === node.id ? " (start)" : ""}: ${state.toLowerCase()}`}
              onClick={() => onSelect?.(node.id)}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") {
                  e.preventDefault();
                  onSelect?.(node.id);
                }
              }}
            >
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={8} />
              <text x={NODE_WIDTH / 2} y={NODE_HEIGHT / 2 + 5} textAnchor="middle">
                {start === node.id ? "▶ " : ""}
                {node.id.length > 17 ? `${node.id.slice(0, 16)}…` : node.id}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
