import { describe, expect, it } from "vitest"
import { detectCycle, topoOrder, upstreamClosure } from "../../../pipelines/dag.js"

const g = (edges: Record<string, Array<string>>) => new Map(Object.entries(edges))

describe("detectCycle", () => {
  it("returns undefined for a DAG", () => {
    expect(detectCycle(g({ a: [], b: ["a"], c: ["a", "b"], d: ["c"] }))).toBeUndefined()
  })
  it("returns a self-loop as one hop", () => {
    expect(detectCycle(g({ a: ["a"] }))).toEqual(["a", "a"])
  })
  it("returns the hops of a longer cycle, following needs", () => {
    const cycle = detectCycle(g({ a: ["c"], b: ["a"], c: ["b"], d: [] }))
    expect(cycle).toEqual(["a", "c", "b", "a"])
  })
  it("finds a cycle that is downstream of acyclic stages", () => {
    expect(detectCycle(g({ root: [], x: ["root", "y"], y: ["x"] }))).toEqual(["x", "y", "x"])
  })
})

describe("topoOrder", () => {
  it("puts every stage after what it needs, preferring the earliest-declared ready stage", () => {
    const order = topoOrder(g({ report: ["train", "eval"], train: ["split"], eval: ["train", "split"], split: [], other: [] }))
    expect(order).toEqual(["split", "train", "eval", "report", "other"])
  })
})

describe("upstreamClosure", () => {
  it("selects targets and everything they need", () => {
    const needs = g({ a: [], b: ["a"], c: ["b"], d: ["a"], e: ["d", "c"] })
    expect([...upstreamClosure(needs, ["c"])].sort()).toEqual(["a", "b", "c"])
    expect([...upstreamClosure(needs, ["d", "b"])].sort()).toEqual(["a", "b", "d"])
  })
})
