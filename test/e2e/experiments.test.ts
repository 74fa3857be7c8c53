/**
 * Experiments as a user of the shipped pipeline meets them, on a 2,000-image subset of the real data: a 4-point
 * sweep over the MLP's lr ranks its points by evaluate-mlp.test_accuracy (with the CNN's evaluation cached in
 * every point, the figure that used to be shown instead), `pipe exps` finds them by param and figure, `pipe diff`
 * compares two experiments, gc leaves the sweep and its report intact, and a forced retrain reruns nothing
 * downstream. Then naming, tagging and the errors a typo gets.
 */
import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
const SETS = ["--set", "download.limit=2000", "--set", "train-mlp.epochs=3", "--set", "train-cnn.epochs=1"]
const ANALYSIS = ["--set", "analyze.pca_points=500", "--set", "analyze.tsne_points=150", "--set", "analyze.tsne_iterations=250"]
const LRS = [0.0003, 0.001, 0.003, 0.03]

let ws: Workspace
let sweepId: number
/** The sweep's point events, in point order. */
let points: Array<Record<string, any>>
let cnnAccuracy: number

const exp = async (ref: string | number) => {
  const r = await ws.json(["exps", typeof ref === "number" ? `e${ref}` : ref])
  expect(r.code, r.stderr).toBe(0)
  return r.events[0]!
}

beforeAll(async () => {
  ws = workspace({ "pipeline.yaml": PIPELINE })
  // The CNN's branch first, so that every point of the sweep restores its evaluation from the cache.
  const cnn = await ws.json(["run", "evaluate-cnn", ...SETS])
  expect(cnn.code, cnn.stderr).toBe(0)
  cnnAccuracy = cnn.events.find((e) => e["stage"] === "evaluate-cnn")!["metrics"]["test_accuracy"]
  const s = await ws.json([
    "sweep",
    `train-mlp.lr=${LRS.join(",")}`,
    ...SETS,
    "--stage", "evaluate-mlp",
    "--stage", "evaluate-cnn",
    "--name", "lr-search",
    "--tag", "acceptance"
  ])
  expect(s.code, s.stderr).toBe(0)
  sweepId = summary(s.events)!["sweep"]
  points = s.events.filter((e) => e["event"] === "point").sort((a, b) => a["point"] - b["point"])
}, 240_000)

afterAll(() => ws?.cleanup())

describe("a sweep over the MLP's lr in the shipped pipeline", () => {
  it("ranks its points by evaluate-mlp.test_accuracy, each the value of that point's own MLP evaluation", async () => {
    expect((await ws.json(["sweeps"])).events.find((e) => e["id"] === sweepId)).toMatchObject({
      id: sweepId,
      metric: "evaluate-mlp.test_accuracy",
      points: 4,
      recorded: 4
    })
    expect(points.map((p) => p["params"]["train-mlp.lr"])).toEqual(LRS)
    for (const p of points) {
      expect(p["metric_name"]).toBe("evaluate-mlp.test_accuracy")
      const e = await exp(p["experiment"])
      expect(e).toMatchObject({ sweep: sweepId, point: p["point"], name: `lr-search-${p["point"]}`, tags: ["acceptance"], status: "ok" })
      expect(e["params"]["train-mlp.lr"]).toBe(p["params"]["train-mlp.lr"])
      // The point's figure is its own evaluate-mlp run's, not the CNN's (which every point restored).
      const run = await ws.json(["show", `#${e["runs"]["evaluate-mlp"]}`])
      expect(run.events[0]!["metrics"]["test_accuracy"]).toBe(p["metric"])
      expect(e["metrics"]["evaluate-mlp.test_accuracy"]).toBe(p["metric"])
      expect(e["metrics"]["evaluate-cnn.test_accuracy"]).toBe(cnnAccuracy)
    }
    // Four trainings with four learning rates do not all score the same.
    expect(new Set(points.map((p) => p["metric"])).size).toBeGreaterThan(1)

    // The table, as printed: best first. Everything is cached now, so this is quick.
    const text = await ws.pipe(["sweep", `train-mlp.lr=${LRS.join(",")}`, ...SETS, "--stage", "evaluate-mlp", "--stage", "evaluate-cnn"])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^by evaluate-mlp\.test_accuracy \(higher is better\):$/m)
    const rows = text.stdout.split("\n").filter((l) => /^\s+\d+\s+0\.0/.test(l)).map((l) => l.trim().split(/\s+/))
    expect(rows).toHaveLength(4)
    const best = [...points].sort((a, b) => b["metric"] - a["metric"])
    expect(rows.map((r) => Number(r[1]))).toEqual(best.map((p) => p["params"]["train-mlp.lr"]))
    expect(rows.map((r) => r[2])).toEqual(best.map((p) => p["metric"].toFixed(4)))
    expect(text.stdout).toMatch(/^0 ran, \d+ cached/m)
  })

  it("pipe exps finds the points by param and sorts them by the metric", async () => {
    const q = await ws.json(["exps", "--tag", "acceptance", "--where", "train-mlp.lr>=1e-3", "--sort", "-evaluate-mlp.test_accuracy"])
    expect(q.code, q.stderr).toBe(0)
    const want = points
      .filter((p) => p["params"]["train-mlp.lr"] >= 1e-3)
      .sort((a, b) => b["metric"] - a["metric"] || b["experiment"] - a["experiment"])
    expect(q.events.map((e) => e["id"])).toEqual(want.map((p) => p["experiment"]))
    expect(q.events.map((e) => e["metrics"]["evaluate-mlp.test_accuracy"])).toEqual(want.map((p) => p["metric"]))

    const one = await ws.json(["exps", "--where", "train-mlp.lr=1e-3", "--where", "sweep=" + sweepId])
    expect(one.events.map((e) => e["id"])).toEqual([points[1]!["experiment"]])

    // As people read it: the filtered and sorted fields are columns.
    const text = await ws.pipe(["exps", "--sweep", String(sweepId), "--sort", "-evaluate-mlp.test_accuracy"])
    expect(text.code, text.stderr).toBe(0)
    const [header, ...rest] = text.stdout.trim().split("\n")
    const lines = rest.filter((l) => /^e\d+ /.test(l))
    // Columns past the first few figures are named, not dropped.
    expect(rest.at(-1)).toMatch(/^\(\d+ more columns? not shown: .*evaluate-mlp\.ms_per_image_single/)
    expect(header).toMatch(/^exp\s+name\s+status\s+created\s+source\s+tags\s+evaluate-mlp\.test_accuracy\s+train-mlp\.lr/)
    expect(lines).toHaveLength(4)
    expect(lines[0]).toContain(`lr-search-${[...points].sort((a, b) => b["metric"] - a["metric"])[0]!["point"]}`)
    expect(lines[0]).toMatch(new RegExp(`sweep ${sweepId} #\\d\\s+acceptance`))
  })

  it("pipe diff compares two experiments by their params and figures", async () => {
    const [a, b] = [points[0]!, points[3]!]
    const d = await ws.json(["diff", `e${a["experiment"]}`, `lr-search-4`])
    expect(d.code, d.stderr).toBe(0)
    const diff = d.events[0]!
    expect(diff["params"]).toEqual([{ key: "train-mlp.lr", a: 0.0003, b: 0.03 }])
    expect(diff["metrics"]).toContainEqual({
      key: "evaluate-mlp.test_accuracy",
      a: a["metric"],
      b: b["metric"],
      delta: b["metric"] - a["metric"]
    })
    expect(diff["runs"].map((r: { stage: string }) => r.stage).sort()).toEqual(["evaluate-mlp", "train-mlp"])
    expect(diff["shared"]).toEqual(expect.arrayContaining(["download", "split", "plain", "train-cnn", "evaluate-cnn"]))
    const text = await ws.pipe(["diff", `e${a["experiment"]}`, `e${b["experiment"]}`])
    expect(text.stdout).toMatch(/^\s+train-mlp\.lr\s+0\.0003\s+0\.03$/m)
    expect(text.stdout).toMatch(/^\s+evaluate-mlp\.test_accuracy\s/m)
  })

  it("gc leaves the sweep and its report intact; a plain run's experiment keeps its figures after its runs go", async () => {
    // A run outside the sweep, then back to the pipeline's own lr (point 2's runs, restored from the cache).
    const other = await ws.json(["run", "evaluate-mlp", ...SETS, "--set", "train-mlp.lr=0.05"])
    expect(other.code, other.stderr).toBe(0)
    const otherExp = summary(other.events)!["experiment"]
    const otherAcc = other.events.find((e) => e["stage"] === "evaluate-mlp")!["metrics"]["test_accuracy"]
    const back = await ws.json(["run", "evaluate-mlp", ...SETS])
    expect(statuses(back.events)["train-mlp"]).toBe("cached")

    const gc = await ws.json(["gc", "--keep-last", "0", ...SETS])
    expect(gc.code, gc.stderr).toBe(0)
    expect(gc.events[0]).toMatchObject({ sweeps: [] })
    expect(gc.events[0]!["removedRuns"]).toBeGreaterThanOrEqual(2)
    const removed = new Set(gc.events[0]!["runs"].map((r: { id: number }) => r.id))
    for (const p of points) {
      const e = await exp(p["experiment"])
      for (const run of Object.values(e["runs"])) expect(removed.has(run)).toBe(false)
      expect(e["runs_gone"]).toBe(0)
    }
    const sweeps = await ws.json(["sweeps"])
    expect(sweeps.events.find((e) => e["id"] === sweepId)).toMatchObject({ recorded: 4, missing_runs: 0 })

    const report = await ws.json(["report", "--sweep", String(sweepId), "-o", join(ws.dir, "rep"), ...SETS, ...ANALYSIS])
    expect(report.code, report.stderr).toBe(0)
    const md = readFileSync(join(ws.dir, "rep", "summary.md"), "utf8")
    for (const p of points) expect(md).toContain(`${(p["metric"] * 100).toFixed(2)}`)
    // Its provenance names the sweep's experiments.
    expect(md).toMatch(new RegExp(`experiments.*${points.map((p) => `e${p["experiment"]}`).join(", ")}`))
    expect(existsSync(join(ws.dir, "rep", "report.html"))).toBe(true)

    // The plain run's experiment: its runs are gone, its params and figures are not.
    const e = await exp(otherExp)
    expect(e["runs_gone"]).toBeGreaterThan(0)
    expect(e["params"]["train-mlp.lr"]).toBe(0.05)
    expect(e["metrics"]["evaluate-mlp.test_accuracy"]).toBe(otherAcc)
  }, 180_000)

  it("a forced retrain gives the same model, and nothing downstream reruns", async () => {
    const before = await ws.json(["run", "evaluate-mlp", ...SETS])
    const model = before.events.find((e) => e["stage"] === "train-mlp")!["output"]
    const forced = await ws.json(["run", "train-mlp", "--force", ...SETS])
    expect(forced.code, forced.stderr).toBe(0)
    expect(statuses(forced.events)["train-mlp"]).toBe("ran")
    expect(forced.events.find((e) => e["stage"] === "train-mlp")!["output"]).toBe(model)
    const after = await ws.json(["run", "evaluate-mlp", ...SETS])
    expect(summary(after.events)).toMatchObject({ ran: 0, failed: 0 })
    expect(statuses(after.events)["evaluate-mlp"]).toBe("cached")
  })
})

describe("naming, tagging and typos", () => {
  it("names and tags experiments, finds them by tag, and gc keeps a tagged experiment's runs", async () => {
    const r = await ws.pipe(["run", "evaluate-mlp", ...SETS, "--set", "train-mlp.lr=0.02", "--name", "fast", "--tag", "keep"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/· experiment e\d+ \(fast\)$/m)
    const tagged = await ws.json(["exps", "--tag", "keep"])
    expect(tagged.events.map((e) => e["name"])).toEqual(["fast"])
    const t = await ws.json(["tag", "fast", "paper"])
    expect(t.events[0]).toMatchObject({ name: "fast", tags: ["keep", "paper"] })
    await ws.json(["run", "evaluate-mlp", ...SETS])
    const gc = await ws.json(["gc", "--keep-last", "0", ...SETS])
    expect(gc.events[0]!["keptForExperiments"]).toBeGreaterThan(0)
    expect((await exp("fast"))["runs_gone"]).toBe(0)
  }, 120_000)

  it("a field no experiment has, a bad tag, a bad --where: clear errors, exit 2", async () => {
    const typo = await ws.pipe(["exps", "--where", "train-mlp.lrr=0.001"])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toMatch(/no experiment of fashion-mnist has a param or figure 'train-mlp\.lrr'.*did you mean 'train-mlp\.lr'/)
    const sort = await ws.pipe(["exps", "--sort", "-evaluate-mlp.test_acc"])
    expect(sort.code).toBe(2)
    expect(sort.stderr).toMatch(/did you mean 'evaluate-mlp\.test_accuracy'/)
    const bad = await ws.pipe(["exps", "--where", "lr"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/cannot read --where 'lr'.*train-mlp\.lr=0\.001/)
    const tag = await ws.pipe(["run", "evaluate-mlp", ...SETS, "--tag", "../x"])
    expect(tag.code).toBe(2)
    expect(tag.stderr).toMatch(/invalid tag '\.\.\/x'/)
    const none = await ws.pipe(["diff", "e999", "e1"])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/no experiment e999/)
    const outside = await ws.pipe(["sweep", "train-cnn.lr=0.1,0.2", ...SETS, "--stage", "evaluate-mlp"])
    expect(outside.code).toBe(2)
    expect(outside.stderr).toMatch(/does not run train-cnn/)
  })
})
