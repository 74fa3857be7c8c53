/** Sampled sweeps: distributions parsed and refused with their reasons, and the trials a seed draws. */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { distributionText, draw, parseDistribution, sample, valueAt, type SampledAxis } from "../../../pipelines/sample.js"

const parsed = (text: string) => Either.getOrThrow(parseDistribution(text))
const refused = (text: string) => Either.getLeft(parseDistribution(text)).pipe((o) => (o._tag === "Some" ? o.value : "accepted"))

const axis = (key: string, text: string): SampledAxis => {
  const [stage, param] = key.split(".") as [string, string]
  return { key, stage, param, distribution: parsed(text) }
}

describe("distributions", () => {
  it("reads each form, and a plain value list as a choice", () => {
    expect(parsed("loguniform:1e-4:1e-2")).toEqual({ kind: "loguniform", low: 1e-4, high: 1e-2 })
    expect(parsed("uniform:0:0.5")).toEqual({ kind: "uniform", low: 0, high: 0.5 })
    expect(parsed("int:16:256")).toEqual({ kind: "int", low: 16, high: 256 })
    expect(parsed("choice:64,128,256")).toEqual({ kind: "choice", values: [64, 128, 256] })
    expect(parsed("mlp,cnn")).toEqual({ kind: "choice", values: ["mlp", "cnn"] })
    expect(parsed("log(1e-4,1e-2,3)")).toEqual({ kind: "choice", values: [1e-4, 1e-3, 1e-2] })
    expect(distributionText(parsed("loguniform:1e-4:1e-2"))).toBe("loguniform:0.0001:0.01")
    expect(distributionText(parsed("choice:a,b"))).toBe("choice:a,b")
  })

  it("refuses unknown names, empty ranges, a log range touching 0 and malformed bounds, saying the fix", () => {
    expect(refused("logunifrom:1e-4:1e-2")).toBe(
      "unknown distribution 'logunifrom' (did you mean 'loguniform'?); distributions: uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH or choice:V1,V2,... (a text value with a colon: quote it)"
    )
    expect(refused("uniform:0.5:0.5")).toBe("uniform:0.5:0.5: the range is empty (LOW must be below HIGH)")
    expect(refused("uniform:1:0")).toBe("uniform:1:0: the range is empty (LOW must be below HIGH)")
    expect(refused("loguniform:0:1e-2")).toBe("loguniform:0:1e-2: a log range must lie above 0 (LOW > 0), e.g. loguniform:1e-5:1e-1")
    expect(refused("loguniform:-1:1")).toContain("a log range must lie above 0")
    expect(refused("int:1.5:4")).toBe("int:1.5:4: int takes whole numbers, e.g. int:16:256")
    expect(refused("uniform:0")).toBe("expected uniform:LOW:HIGH with two numbers, e.g. uniform:1e-4:1e-2")
    expect(refused("uniform:a:b")).toBe("expected uniform:LOW:HIGH with two numbers, e.g. uniform:1e-4:1e-2")
    expect(refused("choice:")).toBe("choice: expected at least one value, e.g. choice:64,128,256")
  })
})

describe("draws", () => {
  it("are uniform in [0, 1), fixed by (seed, trial, name), and differ when any of the three does", () => {
    const us = Array.from({ length: 4000 }, (_, t) => draw(7, t, "train.lr"))
    expect(Math.min(...us)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...us)).toBeLessThan(1)
    // each tenth of [0, 1) holds about a tenth of the draws
    for (let d = 0; d < 10; d++) {
      const n = us.filter((u) => u >= d / 10 && u < (d + 1) / 10).length
      expect(n).toBeGreaterThan(330)
      expect(n).toBeLessThan(470)
    }
    expect(draw(7, 3, "train.lr")).toBe(us[3])
    expect(draw(8, 3, "train.lr")).not.toBe(us[3])
    expect(draw(7, 3, "train.dropout")).not.toBe(us[3])
  })

  it("map onto each distribution's range; loguniform is even in the log, int covers both ends", () => {
    const lr = parsed("loguniform:1e-4:1e-2")
    const logs = Array.from({ length: 2000 }, (_, t) => Math.log10(valueAt(lr, draw(0, t, "lr")) as number))
    expect(Math.min(...logs)).toBeGreaterThanOrEqual(-4)
    expect(Math.max(...logs)).toBeLessThanOrEqual(-2)
    expect(logs.filter((l) => l < -3).length / logs.length).toBeGreaterThan(0.45)
    expect(logs.filter((l) => l < -3).length / logs.length).toBeLessThan(0.55)
    const ints = new Set(Array.from({ length: 500 }, (_, t) => valueAt(parsed("int:1:4"), draw(0, t, "n"))))
    expect([...ints].sort()).toEqual([1, 2, 3, 4])
    expect(valueAt(parsed("uniform:0:0.5"), 0.999999999)).toBeLessThanOrEqual(0.5)
    expect(valueAt(parsed("choice:a,b,c"), 0.5)).toBe("b")
  })
})

describe("sample", () => {
  const space = [axis("train.lr", "loguniform:1e-4:1e-2"), axis("train.batch_size", "choice:64,128,256"), axis("train.dropout", "uniform:0:0.5")]

  it("gives the same trials for the same seed, others for another seed, as sweep points with overrides", () => {
    const a = sample(space, 24, 7)
    expect(a.points).toHaveLength(24)
    expect(sample(space, 24, 7)).toEqual(a)
    expect(sample(space, 24, 8).points.map((p) => p.params)).not.toEqual(a.points.map((p) => p.params))
    const p = a.points[5]!
    expect(p.index).toBe(5)
    expect(Object.keys(p.params)).toEqual(["train.lr", "train.batch_size", "train.dropout"])
    expect(p.overrides.map((o) => [o.stage, o.param, o.value])).toEqual([
      ["train", "lr", p.params["train.lr"]],
      ["train", "batch_size", p.params["train.batch_size"]],
      ["train", "dropout", p.params["train.dropout"]]
    ])
    // 6 significant digits: they print and key as written
    for (const q of a.points) expect(String(q.params["train.lr"]).replace(/^0\.0*|e.*$|\./g, "").length).toBeLessThanOrEqual(6)
  })

  it("keeps the values of the other params when a param is added, and the first trials when more are drawn", () => {
    const two = sample(space.slice(0, 2), 10, 3).points.map((p) => p.params["train.lr"])
    const three = sample(space, 10, 3).points.map((p) => p.params["train.lr"])
    expect(three).toEqual(two)
    expect(sample(space, 30, 3).points.slice(0, 10)).toEqual(sample(space, 10, 3).points)
  })

  it("runs a repeated trial once (a small space of choices)", () => {
    const r = sample([axis("train.model", "choice:mlp,cnn")], 10, 0)
    expect(r.drawn).toBe(10)
    expect(r.points.map((p) => p.params["train.model"]).sort()).toEqual(["cnn", "mlp"])
    expect(r.points.map((p) => p.index)).toEqual([0, 1])
  })
})
