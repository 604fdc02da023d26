import { describe, expect, it } from "vitest";
import { edgesOf, layout } from "../src/graph";

const byId = (l: ReturnType<typeof layout>) => Object.fromEntries(l.nodes.map((n) => [n.id, n]));

describe("layout", () => {
  it("puts each step one layer below the furthest step leading to it", () => {
    const placed = byId(
      layout({
        steps: [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "join" }],
        flow: {
          startAt: "a",
          transitions: [
            { from: "a", to: "b" },
            { from: "a", to: "c" },
            { from: "b", to: "join" },
            { from: "c", to: "join" },
            { from: "a", to: "join" },
          ],
        },
      }),
    );

    expect([placed.a.layer, placed.b.layer, placed.c.layer, placed.join.layer]).toEqual([0, 1, 1, 2]);
    expect(placed.b.y).toBe(placed.c.y);
    expect(placed.b.x).toBeLessThan(placed.c.x);
  });

  it("draws a loop's back edge without pushing its target down", () => {
    const result = layout({
      steps: [{ id: "fetch" }, { id: "check" }],
      flow: { startAt: "fetch", transitions: [{ from: "fetch", to: "check" }, { from: "check", to: "fetch" }] },
    });

    expect(byId(result).fetch.layer).toBe(0);
    expect(byId(result).check.layer).toBe(1);
    expect(result.edges).toEqual([
      { from: "fetch", to: "check", back: false },
      { from: "check", to: "fetch", back: true },
    ]);
  });

  it("chains steps in order when the definition has no transitions", () => {
    expect(edgesOf({ steps: [{ id: "a" }, { id: "b" }, { id: "c" }] })).toEqual([
      { from: "a", to: "b" },
      { from: "b", to: "c" },
    ]);
    expect(layout({ steps: [] })).toMatchObject({ nodes: [], edges: [], height: 20 });
  });

  it("ignores transitions to steps that do not exist", () => {
    const result = layout({ steps: [{ id: "a" }], flow: { transitions: [{ from: "a", to: "ghost" }] } });

    expect(result.edges).toEqual([]);
    expect(result.nodes).toHaveLength(1);
  });
});
