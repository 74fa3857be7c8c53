/**
 * `pipe sweep --search asha` through the built CLI on a small real subset: rungs of epochs, the best 1/eta go on,
 * each promoted trial continues its own model, a rerun runs nothing, a higher --max-epochs trains only the new
 * rung, and bad searches are refused before anything runs.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

const PIPELINE = `
name: halving
stages:
  download: { kind: download, params: { limit: 1000 } }
  split: { kind: split, needs: [download], params: { ratio: 0.8, seed: 0 } }
  plain: { kind: augment, needs: [download], params: { pad: 0, flip: 0, mean: 0, std: 1 } }
  train:
    kind: train
    needs: [split, plain]
    params: { model: mlp, batch_size: 64, epochs: 9, schedule_epochs: 9 }
  evaluate:
    kind: evaluate
    needs: [train, split]
`
const search = (metric = "train.val_accuracy", eta = "3") => ["sweep", "--search", "asha", "--trials", "6", "--seed", "1", "--metric", metric, "--min-epochs", "1", "--eta", eta, "train.lr=loguniform:1e-4:3e-2"]
const SEARCH = search()

let ws: Workspace
let firstSweep = 0
afterAll(() => ws?.cleanup())

/**
 * `pipe report --sweep N` on a halving search: its trials best first with their rung and status, stopped rows
 * greyed, a parallel-coordinates chart, and each trial's curve by epoch ending at its figure, stopped ones grey.
 */
const expectSearchReport = async (sweep: number, trials: ReadonlyArray<Record<string, any>>) => {
  const r = await ws.json(["report", "--sweep", String(sweep), "-o", "search-report"])
  expect(r.code, r.stderr).toBe(0)
  const report = r.events[0]!
  expect(report["figures"]).toEqual(["search-parallel-coordinates", "search-curves"])
  expect(report["trials"].map((t: Record<string, unknown>) => [t["point"], t["rung"], t["status"]])).toEqual(trials.map((t) => [t["point"], t["rung"], t["status"]]))
  const html = readFileSync(join(ws.dir, "search-report", "report.html"), "utf8")
  expect(html.match(/<tr class="stopped"/g)).toHaveLength(trials.filter((t) => t["status"] === "stopped").length)
  const svg = readFileSync(join(ws.dir, "search-report", "figures", "search-curves.svg"), "utf8")
  for (const t of trials) {
    const label = t["status"] === "ok" ? `at the last rung: trial ${t["point"]}` : `trial: trial ${t["point"]}`
    const points = [...svg.matchAll(new RegExp(`<path aria-label="epoch: (\\d+); train\\.val_accuracy: ([0-9.]+); ${label}" [^>]*aria-roledescription="point"[^>]*fill="([^"]+)"`, "g"))]
    expect(points.map((m) => Number(m[1]))).toEqual(Array.from({ length: t["epochs"] }, (_, i) => i + 1))
    expect(Number(points.at(-1)![2])).toBeCloseTo(t["metric"], 9)
    expect(points.every((m) => (m[3] === "#aaa") === (t["status"] === "stopped"))).toBe(true)
  }
  expect(readFileSync(join(ws.dir, "search-report", "figures", "search-parallel-coordinates.svg"), "utf8")).toContain("train.lr")
}
const of = (events: ReadonlyArray<Record<string, any>>, kind: string) => events.filter((e) => e["event"] === kind)
const trainsRan = (events: ReadonlyArray<Record<string, any>>) => of(events, "stage").filter((e) => e["stage"] === "train" && e["status"] === "ran")

describe("pipe sweep --search asha", () => {
  it("promotes the best third at each rung, continuing each promoted trial's model, and records where each trial stopped", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json([...SEARCH, "--max-epochs", "3"])
    expect(r.code, r.stderr).toBe(0)
    expect(of(r.events, "rung").map((e) => [e["rung"], e["epochs"], e["trials"].length])).toEqual([[1, 1, 6], [2, 3, 2]])
    // the two best of the first rung go on
    const first = of(r.events, "point").slice(0, 6)
    const best = [...first].sort((a, b) => b["metric"] - a["metric"] || a["point"] - b["point"]).slice(0, 2).map((p) => p["point"]).sort()
    expect(of(r.events, "rung")[1]!["trials"]).toEqual(best)
    // six first-rung trainings, then two that continue them
    expect(trainsRan(r.events)).toHaveLength(8)
    const trials = of(r.events, "trial")
    // listed by rung reached, then by the metric
    const finals = trials.slice(0, 2)
    expect(finals.map((t) => [t["point"], t["rung"], t["epochs"], t["status"]]).sort()).toEqual(best.map((p) => [p, 2, 3, "ok"]))
    expect(finals[0]!["metric"]).toBeGreaterThanOrEqual(finals[1]!["metric"])
    expect(trials.filter((t) => t["status"] === "stopped").map((t) => [t["rung"], t["epochs"]])).toEqual(Array(4).fill([1, 1]))
    // a promoted trial's model continues its first rung's (the key holds that model's hash)
    const promoted = of(r.events, "stage").filter((e) => e["stage"] === "train" && e["point"] === best[0] && e["status"] === "ran").at(-1)!
    const config = JSON.parse(readFileSync(ws.artifact(promoted["output"])["config.json"]!, "utf8"))
    expect(config.resumed).toMatchObject({ epochs: 1 })
    expect(config.params).toMatchObject({ epochs: 3, schedule_epochs: 9 })
    const sweep = of(r.events, "summary")[0]!["sweep"]
    const listed = (await ws.json(["sweeps"])).events.find((s) => s["id"] === sweep)!
    expect(listed).toMatchObject({ search: "asha", trials: 6, seed: 1, eta: 3, rungs: [1, 3], points: 6, statuses: { ok: 2, stopped: 4 } })
    const rows = ws.db().prepare("SELECT point, status, rung, epochs FROM sweep_points WHERE sweep_id = ? ORDER BY point").all(sweep) as Array<Record<string, unknown>>
    expect(rows.filter((x) => x["status"] === "ok").map((x) => [Number(x["point"]) + 1, x["rung"], x["epochs"]])).toEqual(best.map((p) => [p, 2, 3]))
    // pipe sweeps N lists the trials, furthest rung first, then by the metric
    const one = await ws.json(["sweeps", String(sweep)])
    expect(one.code, one.stderr).toBe(0)
    const points = of(one.events, "point")
    expect(points.map((p) => [p["point"], p["rung"], p["epochs"], p["status"]])).toEqual(
      trials.map((t) => [t["point"], t["rung"], t["epochs"], t["status"]])
    )
    const text = (await ws.pipe(["sweeps", String(sweep)])).stdout.split("\n")
    expect(text[1]).toBe("6 trials: 2 ok, 4 stopped; rungs of 1, 3 epochs (eta 3, synchronous promotion); by rung reached, then train.val_accuracy (higher is better)")
    expect(text[3]).toMatch(/^rank +trial +train\.lr +rung +epochs +train\.val_accuracy +status$/)
    expect(text[4]).toMatch(new RegExp(`^1 +${finals[0]!["point"]} +\\S+ +2 +3 +0\\.\\d+ +ok$`))
    expect(text[9]).toMatch(/ 1 +1 +0\.\d+ +stopped$/)
    const missing = await ws.pipe(["sweeps", "99"])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe("pipe: there is no sweep 99 in this store (pipe sweeps lists them)")
    // pipe report --sweep charts the search from its trainings
    firstSweep = sweep
    await expectSearchReport(sweep, trials)
  }, 240_000)

  it("runs nothing when run again, and only the new rung's training when --max-epochs grows", async () => {
    const again = await ws.json([...SEARCH, "--max-epochs", "3"])
    expect(again.code, again.stderr).toBe(0)
    expect(of(again.events, "summary")[0]).toMatchObject({ ran: 0, failed: 0 })
    const more = await ws.json([...SEARCH, "--max-epochs", "9"])
    expect(more.code, more.stderr).toBe(0)
    expect(of(more.events, "rung").map((e) => [e["rung"], e["epochs"], e["trials"].length])).toEqual([[1, 1, 6], [2, 3, 2], [3, 9, 1]])
    expect(trainsRan(more.events)).toHaveLength(1)
    expect(trainsRan(more.events)[0]!["point"]).toBe(of(more.events, "rung")[2]!["trials"][0])
    expect(of(more.events, "trial")[0]).toMatchObject({ rung: 3, epochs: 9, status: "ok" })
    // gc keeps what a sweep's trials used: the search's report is the same after it; dropping the sweep says so
    expect((await ws.pipe(["gc"])).code).toBe(0)
    const listed = of((await ws.json(["sweeps", String(firstSweep)])).events, "point")
    await expectSearchReport(firstSweep, listed)
    expect((await ws.pipe(["gc", "--drop-sweeps"])).code).toBe(0)
    const dropped = await ws.pipe(["report", "--sweep", String(firstSweep)])
    expect(dropped.code).not.toBe(0)
    expect(dropped.stderr).toMatch(new RegExp(`^pipe: sweep ${firstSweep} \\(.*\\) was dropped by pipe gc on .*: its points and the runs only it kept are gone; run it again to report on it \\(stages still cached are reused\\): pipe sweep --search asha`))
  }, 240_000)

  it("promotes asynchronously with --jobs above 1, as the sequential rule says, and a rerun at other --jobs trains nothing", async () => {
    const w = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const args = ["sweep", "--search", "asha", "--trials", "9", "--seed", "3", "--metric", "train.val_accuracy", "--max-epochs", "3", "train.lr=loguniform:1e-4:3e-2"]
      const r = await w.json([...args, "--jobs", "2"])
      expect(r.code, r.stderr).toBe(0)
      // Rung 1's figures, and what the rule makes of them taken in trial order: at the n-th, the best floor(n/3) so far go on.
      const first = new Map(of(r.events, "point").filter((p) => p["rung"] === 1).map((p) => [p["point"] as number, p["metric"] as number]))
      expect([...first.keys()].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
      const byMetric = (xs: Array<number>) => xs.sort((x, y) => first.get(y)! - first.get(x)! || x - y)
      const expected: Array<number> = []
      for (let n = 1; n <= 9; n++) {
        for (const t of byMetric(Array.from({ length: n }, (_, i) => i + 1)).slice(0, Math.floor(n / 3))) if (!expected.includes(t)) expected.push(t)
      }
      const promotes = of(r.events, "promote")
      expect(promotes.map((p) => p["point"])).toEqual(expected)
      expect(promotes.every((p) => p["rung"] === 2 && p["epochs"] === 3)).toBe(true)
      // At least the best third go on (the rule may take more: it decides before every result is in).
      expect(expected.length).toBeGreaterThanOrEqual(3)
      expect(of(r.events, "trial").filter((t) => t["status"] === "ok").map((t) => t["point"]).sort((x: number, y: number) => x - y)).toEqual(
        [...expected].sort((x, y) => x - y)
      )
      expect(trainsRan(r.events)).toHaveLength(9 + expected.length)
      const sweep = of(r.events, "summary")[0]!["sweep"]
      expect((await w.json(["sweeps"])).events.find((s) => s["id"] === sweep)).toMatchObject({ promotion: "async", command: expect.stringContaining("--jobs 2") })
      const again = await w.json([...args, "--jobs", "3"])
      expect(again.code, again.stderr).toBe(0)
      expect(of(again.events, "promote").map((p) => p["point"])).toEqual(expected)
      expect(trainsRan(again.events)).toHaveLength(0)
    } finally {
      w.cleanup()
    }
  }, 300_000)

  it("runs a halving search declared in the pipeline file, and locates a declared one's mistakes", async () => {
    const declared = (sweep: string) => `${PIPELINE}sweeps:\n  rungs:\n${sweep}`
    const w = workspace({
      "pipeline.yaml": declared("    search: asha\n    trials: 3\n    seed: 2\n    metric: train.val_accuracy\n    max_epochs: 3\n    grid: { train.lr: \"loguniform:1e-4:3e-2\" }\n")
    })
    try {
      const r = await w.json(["sweep", "rungs"])
      expect(r.code, r.stderr).toBe(0)
      expect(of(r.events, "rung").map((e) => [e["epochs"], e["trials"].length])).toEqual([[1, 3], [3, 1]])
      expect(of(r.events, "trial").map((t) => t["status"]).sort()).toEqual(["ok", "stopped", "stopped"])
      const line = declared("").split("\n").indexOf("  rungs:") + 1
      w.write("pipeline.yaml", declared("    search: asha\n    metric: train.val_accuracy\n    grid: { train.lr: [0.001] }\n"))
      const missing = await w.pipe(["sweep", "rungs"])
      expect(missing.code).toBe(2)
      expect(missing.stderr).toMatch(new RegExp(`^pipeline\\.yaml:${line + 1}:5 sweeps\\.rungs: search: asha needs max_epochs: N, the epochs of its last rung \\(e\\.g\\. max_epochs: 27\\)$`, "m"))
      w.write("pipeline.yaml", declared("    eta: 2\n    grid: { train.lr: [0.001] }\n"))
      const eta = await w.pipe(["sweep", "rungs"])
      expect(eta.code).toBe(2)
      expect(eta.stderr).toMatch(new RegExp(`^pipeline\\.yaml:${line + 1}:5 sweeps\\.rungs\\.eta: eta is for search: asha$`, "m"))
    } finally {
      w.cleanup()
    }
  }, 120_000)

  it("refuses bad searches with exit 2 and runs nothing", async () => {
    const w = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const refused = async (args: ReadonlyArray<string>, message: string | RegExp) => {
        const r = await w.pipe(args)
        expect(r.code, r.stderr).toBe(2)
        if (typeof message === "string") expect(r.stderr).toBe(message)
        else expect(r.stderr).toMatch(message)
      }
      await refused([...search("train.val_accuracy", "1"), "--max-epochs", "3"], /--eta must be at least 2, got 1/)
      await refused(SEARCH, "pipe: --search asha needs --max-epochs N, the epochs of its last rung (e.g. --max-epochs 27)")
      await refused([...SEARCH, "--max-epochs", "27"], "pipe: --max-epochs 27 is past train's schedule_epochs (9): raise schedule_epochs, or lower --max-epochs")
      await refused([...search("evaluate.test_accuracy"), "--max-epochs", "3"],
        "pipe: --search asha trains in rungs of epochs, each continuing the last: evaluate (kind evaluate) has no epochs to continue; rank by a figure of a train stage, e.g. --metric train.val_accuracy")
      await refused([...search("train.val_acuracy"), "--max-epochs", "3"], /^pipe: --metric train\.val_acuracy: .*val_accuracy/)
      await refused(["sweep", "--min-epochs", "2", "train.lr=0.1,0.2"], "pipe: --min-epochs is for --search asha")
      await refused([...SEARCH, "--max-epochs", "3", "train.epochs=2,4"], "pipe: --search asha sets train.epochs itself: leave it out of the search")
      expect(existsSync(join(w.dir, ".pipe", "pipe.db")) ? w.db().prepare("SELECT count(*) FROM runs").pluck().get() : 0).toBe(0)
    } finally {
      w.cleanup()
    }
  }, 60_000)
})
