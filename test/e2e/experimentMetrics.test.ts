/**
 * Figures from any stage and sweeps ranked by a named one, through the built CLI: a `command` stage writes
 * $PIPE_METRICS (one JSON object, or JSON lines), pipe checks it, keeps it with the run and shows it where the
 * built-in kinds' figures appear; `pipe sweep --metric STAGE.FIGURE` ranks each point by its own run of that stage.
 */
import { readFileSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { summary, workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const stage = (events: ReadonlyArray<Record<string, any>>, id: string) =>
  events.find((e) => e["event"] === "stage" && e["stage"] === id)
const points = (events: ReadonlyArray<Record<string, any>>) => events.filter((e) => e["event"] === "point")

/** A stage that writes one file to $PIPE_OUT and, when the workspace has m.txt, copies it to $PIPE_METRICS. */
const WRITER = `
name: figures
stages:
  fit:
    kind: command
    cmd: [sh, -c, 'echo weights > "$PIPE_OUT/w"; [ ! -f m.txt ] || cp m.txt "$PIPE_METRICS"']
`

/** `pipe run --force --json` with m.txt holding `metrics` (none when null). */
const runWith = async (metrics: string | null, args: ReadonlyArray<string> = ["--force"]) => {
  if (metrics === null) rmSync(join(ws.dir, "m.txt"), { force: true })
  else ws.write("m.txt", metrics)
  return ws.json(["run", ...args])
}

describe("figures from a command stage ($PIPE_METRICS)", () => {
  it("keeps a JSON object as the run's figures, shown in --json events, pipe runs and pipe show", async () => {
    ws = workspace({ "pipeline.yaml": WRITER })
    const plain = await runWith(null, [])
    expect(plain.code).toBe(0)
    const bare = stage(plain.events, "fit")!
    expect(bare["metrics"]).toBeUndefined()

    const r = await runWith('{"accuracy": 0.91, "loss": 0.3, "model": "mlp", "ok": true, "note": null}')
    expect(r.code, r.stderr).toBe(0)
    const fit = stage(r.events, "fit")!
    expect(fit["status"]).toBe("ran")
    expect(fit["metrics"]).toEqual({ accuracy: 0.91, loss: 0.3, model: "mlp", ok: true, note: null })
    // the figures are not part of the output: the same files, the same hash
    expect(fit["output"]).toBe(bare["output"])
    expect(Object.keys(ws.artifact(fit["output"]))).toEqual(["w"])

    // restored from the cache, the run's figures come with it
    const again = await runWith(null, [])
    expect(stage(again.events, "fit")).toMatchObject({ status: "cached", metrics: { accuracy: 0.91 } })

    const runs = await ws.json(["runs", "--where", "metrics.accuracy>=0.9"])
    expect(runs.events.map((e) => [e["id"], e["metrics"]["accuracy"]])).toEqual([[fit["run"], 0.91]])
    const table = await ws.pipe(["runs", "--stage", "fit"])
    expect(table.stdout.split("\n")[0]).toMatch(/accuracy\s+loss/)
    const show = await ws.pipe(["show", `#${fit["run"]}`])
    expect(show.stdout).toContain("metrics:\n  accuracy = 0.91\n  loss = 0.3")
    expect(show.stdout).not.toContain("metrics series")
  })

  it("reads JSON lines as a series: the last line is the headline, every line is kept", async () => {
    ws = workspace({ "pipeline.yaml": WRITER })
    const lines = '{"epoch": 1, "loss": 0.9}\n{"epoch": 2, "loss": 0.5}\n\n{"epoch": 3, "loss": 0.25, "accuracy": 0.8}\n'
    const r = await runWith(lines, [])
    expect(r.code, r.stderr).toBe(0)
    const fit = stage(r.events, "fit")!
    expect(fit["metrics"]).toEqual({ epoch: 3, loss: 0.25, accuracy: 0.8 })
    const show = await ws.pipe(["show", `#${fit["run"]}`, "--json"])
    const shown = JSON.parse(show.stdout) as Record<string, any>
    expect(shown["metrics"]).toEqual({ epoch: 3, loss: 0.25, accuracy: 0.8 })
    expect(shown["metrics_series"]).toEqual([
      { epoch: 1, loss: 0.9 },
      { epoch: 2, loss: 0.5 },
      { epoch: 3, loss: 0.25, accuracy: 0.8 }
    ])
    const series = join(ws.dir, ".pipe", "logs", `${fit["run"]}.metrics.jsonl`)
    expect(readFileSync(series, "utf8").trim().split("\n")).toHaveLength(3)
    const text = await ws.pipe(["show", `#${fit["run"]}`])
    expect(text.stdout).toContain(`metrics series: 3 lines (${series}; the last is the headline)`)
  })

  it("fails the stage with a message naming the line when the file is not figures", async () => {
    ws = workspace({ "pipeline.yaml": WRITER })
    const cases: Array<[string, string]> = [
      ['{"loss": 0.5}\n{"loss": 0.4,}\n', "$PIPE_METRICS: line 2: not JSON"],
      ['{"loss": 0.5}\n[1, 2]\n', "$PIPE_METRICS: line 2: expected a JSON object of figures"],
      ['{"loss": 0.5}\n{"loss": NaN}\n', "$PIPE_METRICS: line 2: NaN and Infinity are not JSON"],
      ['{"loss": 0.5, "per_class": [0.1, 0.2]}', "$PIPE_METRICS: line 1: figure 'per_class' is a list; figures are finite numbers, strings, booleans or null"],
      ['{"loss": 1e999}', "$PIPE_METRICS: line 1: figure 'loss' is Infinity"],
      ["0.93", "$PIPE_METRICS: line 1: expected a JSON object of figures (e.g. {\"accuracy\": 0.91}), got 0.93"],
      ["  \n", "$PIPE_METRICS: the file is empty"]
    ]
    for (const [text, message] of cases) {
      const r = await runWith(text)
      expect(r.code, text).toBe(1)
      const fit = stage(r.events, "fit")!
      expect(fit["status"]).toBe("failed")
      expect(fit["error"], text).toContain(message)
    }
    // nothing failed was kept as a result
    const d = ws.db()
    expect(d.prepare("SELECT count(*) FROM runs WHERE status = 'ok'").pluck().get()).toBe(0)
    d.close()
  })
})

/** Two models, each a train and an eval, both writing `accuracy`; eval-a's depends on train-a's lr, eval-b's is fixed. */
const EVAL = `import { readFileSync, writeFileSync } from "node:fs"
const lr = Number(readFileSync(process.env[process.argv[2]] + "/w", "utf8"))
const accuracy = Math.round((1 - Math.abs(lr - 0.2)) * 1000) / 1000
writeFileSync(process.env.PIPE_OUT + "/score", String(accuracy))
writeFileSync(process.env.PIPE_METRICS, JSON.stringify({ accuracy, loss: Math.round((1 - accuracy) * 1000) / 1000 }) + "\\n")
`
const TWO = `
name: two
stages:
  data:
    kind: command
    cmd: [sh, -c, 'echo run >> ran.log; echo d > "$PIPE_OUT/d"']
  train-a:
    kind: command
    needs: [data]
    cmd: [sh, -c, 'echo run >> ran.log; echo "\${params.lr}" > "$PIPE_OUT/w"; echo "{\\"accuracy\\": 0.5}" > "$PIPE_METRICS"']
    params: { lr: 0.1 }
  eval-a:
    kind: command
    needs: [train-a]
    cmd: [node, eval.mjs, PIPE_IN_TRAIN_A]
    deps: [eval.mjs]
  train-b:
    kind: command
    needs: [data]
    cmd: [sh, -c, 'echo run >> ran.log; echo "\${params.lr}" > "$PIPE_OUT/w"; echo "{\\"accuracy\\": 0.6}" > "$PIPE_METRICS"']
    params: { lr: 0.25 }
  eval-b:
    kind: command
    needs: [train-b]
    cmd: [node, eval.mjs, PIPE_IN_TRAIN_B]
    deps: [eval.mjs]
`

/** The figures of each point's run of a stage, from the store: sweep point -> that run's metrics. */
const pointRuns = (w: Workspace, sweep: number, stageId: string): Array<Record<string, unknown>> => {
  const d = w.db()
  const rows = d
    .prepare("SELECT p.point, r.metrics FROM sweep_point_runs p JOIN runs r ON r.id = p.run_id WHERE p.sweep_id = ? AND p.stage = ? ORDER BY p.point")
    .all(sweep, stageId) as Array<{ point: number; metrics: string }>
  d.close()
  return rows.map((r) => JSON.parse(r.metrics) as Record<string, unknown>)
}

describe("pipe sweep ranks by a stage-qualified metric", () => {
  it("--metric STAGE.FIGURE takes each point's figure from that point's run of that stage", async () => {
    ws = workspace({ "pipeline.yaml": TWO, "eval.mjs": EVAL })
    const r = await ws.json(["sweep", "train-a.lr=0.1,0.2,0.4", "--metric", "eval-a.accuracy"])
    expect(r.code, r.stderr).toBe(0)
    const pts = points(r.events)
    expect(pts.map((p) => [p["params"], p["metric"], p["metric_name"]])).toEqual([
      [{ "train-a.lr": 0.1 }, 0.9, "eval-a.accuracy"],
      [{ "train-a.lr": 0.2 }, 1, "eval-a.accuracy"],
      [{ "train-a.lr": 0.4 }, 0.8, "eval-a.accuracy"]
    ])
    const sweep = summary(r.events)!["sweep"] as number
    expect(summary(r.events)).toMatchObject({ metric: "eval-a.accuracy", goal: "max" })
    expect(pointRuns(ws, sweep, "eval-a").map((m) => m["accuracy"])).toEqual(pts.map((p) => p["metric"]))
    // not eval-b's figure (the last stage in run order with an `accuracy`), nor train-a's
    expect(pointRuns(ws, sweep, "eval-b").map((m) => m["accuracy"])).toEqual([0.95, 0.95, 0.95])

    // the table, best first; run again, everything cached, the same figures
    const text = await ws.pipe(["sweep", "train-a.lr=0.1,0.2,0.4", "--metric", "eval-a.accuracy"])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain("✓ point 1/3  train-a.lr=0.1  eval-a.accuracy 0.9000  ok")
    const table = text.stdout.slice(text.stdout.indexOf("by eval-a.accuracy (higher is better):"))
    expect(table.split("\n").slice(2, 5).map((l) => l.trim().split(/\s+/).slice(0, 3))).toEqual([
      ["1", "0.2", "1"],
      ["2", "0.1", "0.9000"],
      ["3", "0.4", "0.8000"]
    ])
  })

  it("refuses an ambiguous, unknown or constant metric before anything runs, exit 2", async () => {
    ws = workspace({ "pipeline.yaml": TWO, "eval.mjs": EVAL })
    const bare = await ws.pipe(["sweep", "train-a.lr=0.1,0.2", "--metric", "accuracy"])
    expect(bare.code).toBe(2)
    expect(bare.stderr).toBe(
      "pipe: --metric accuracy: several stages that the swept params (of train-a) reach may report 'accuracy' " +
        "(a command stage may report any figure); name one as STAGE.FIGURE: train-a.accuracy, eval-a.accuracy"
    )
    const unknown = await ws.pipe(["sweep", "train-a.lr=0.1,0.2", "--metric", "eval-c.accuracy"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("--metric eval-c.accuracy: unknown stage 'eval-c' (did you mean 'eval-a'?)")
    const constant = await ws.pipe(["sweep", "train-a.lr=0.1,0.2", "--metric", "eval-b.accuracy"])
    expect(constant.code).toBe(2)
    expect(constant.stderr).toBe(
      "pipe: --metric eval-b.accuracy: eval-b is not reached by the swept params (of train-a), so its accuracy is the same at every point; " +
        "name a stage that does: train-a.accuracy, eval-a.accuracy"
    )
    expect(ws.ranLog()).toEqual([])
  })

  it("uses the pipeline's declared metric when --metric is omitted, sorting ascending for goal: min", async () => {
    const declared = TWO.replace("name: two\n", "name: two\nmetric: { name: eval-a.loss, goal: min }\n") +
      "sweeps:\n  rates:\n    grid: { train-a.lr: [0.4, 0.2] }\n    metric: eval-a.accuracy\n"
    ws = workspace({ "pipeline.yaml": declared, "eval.mjs": EVAL })
    const r = await ws.json(["sweep", "train-a.lr=0.4,0.1,0.2"])
    expect(r.code, r.stderr).toBe(0)
    expect(points(r.events).map((p) => [p["params"]["train-a.lr"], p["metric"], p["metric_name"]])).toEqual([
      [0.4, 0.2, "eval-a.loss"],
      [0.1, 0.1, "eval-a.loss"],
      [0.2, 0, "eval-a.loss"]
    ])
    expect(summary(r.events)).toMatchObject({ metric: "eval-a.loss", goal: "min" })
    const text = await ws.pipe(["sweep", "train-a.lr=0.4,0.1,0.2"])
    const table = text.stdout.slice(text.stdout.indexOf("by eval-a.loss (lower is better):"))
    expect(table.split("\n").slice(2, 5).map((l) => l.trim().split(/\s+/).slice(0, 3))).toEqual([
      ["1", "0.2", "0"],
      ["2", "0.1", "0.1000"],
      ["3", "0.4", "0.2000"]
    ])
    // a declared sweep's own metric wins over the pipeline's; --metric and --goal over both
    const named = await ws.json(["sweep", "rates"])
    expect(summary(named.events)).toMatchObject({ metric: "eval-a.accuracy", goal: "max" })
    const flag = await ws.json(["sweep", "rates", "--metric", "eval-a.accuracy", "--goal", "min"])
    expect(summary(flag.events)).toMatchObject({ metric: "eval-a.accuracy", goal: "min" })
    // a declared sweep's goal without its own metric applies to the pipeline's metric
    ws.write("pipeline.yaml", declared.replace("    metric: eval-a.accuracy\n", "    goal: max\n"))
    const goalOnly = await ws.json(["sweep", "rates"])
    expect(goalOnly.code, goalOnly.stderr).toBe(0)
    expect(summary(goalOnly.events)).toMatchObject({ metric: "eval-a.loss", goal: "max" })
    ws.write("pipeline.yaml", declared)

    // a declared metric that names nothing is a located error when the file loads (a command stage's figures
    // cannot be known in advance, so any figure of one is accepted)
    ws.write("pipeline.yaml", declared.replace("name: eval-a.loss", "name: eval-x.loss").replace("metric: eval-a.accuracy", "metric: evl-a.accuracy"))
    const bad = await ws.pipe(["status"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("pipeline.yaml:3:17 metric.name: unknown stage 'eval-x' (did you mean 'eval-a'?)")
    expect(bad.stderr).toContain("sweeps.rates.metric: unknown stage 'evl-a' (did you mean 'eval-a'?)")
  })
})

describe("pipe sweep on the shipped pipeline", () => {
  const SHIPPED = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
  const SMALL = [
    "--set", "download.limit=1000",
    "--set", "train-mlp.epochs=1",
    "--set", "train-cnn.epochs=1",
    "--set", "analyze.pca_points=300",
    "--set", "analyze.tsne_points=100",
    "--set", "analyze.tsne_iterations=250"
  ]

  it("ranks MLP learning rates by each point's evaluate-mlp test_accuracy, not the cached CNN's", async () => {
    ws = workspace({ "pipeline.yaml": SHIPPED })
    const r = await ws.json(["sweep", "train-mlp.lr=1e-3,3e-3", ...SMALL, "--metric", "evaluate-mlp.test_accuracy"])
    expect(r.code, r.stderr).toBe(0)
    const pts = points(r.events)
    expect(pts.map((p) => [p["params"], p["metric_name"]])).toEqual([
      [{ "train-mlp.lr": 0.001 }, "evaluate-mlp.test_accuracy"],
      [{ "train-mlp.lr": 0.003 }, "evaluate-mlp.test_accuracy"]
    ])
    const sweep = summary(r.events)!["sweep"] as number
    const mlp = pointRuns(ws, sweep, "evaluate-mlp").map((m) => m["test_accuracy"])
    expect(pts.map((p) => p["metric"])).toEqual(mlp)
    expect(mlp[0]).not.toBe(mlp[1])
    // the CNN's evaluation is one run shared by both points; its figure is not what ranks them
    const cnn = pointRuns(ws, sweep, "evaluate-cnn").map((m) => m["test_accuracy"])
    expect(cnn[0]).toBe(cnn[1])
    expect(pts.map((p) => p["metric"])).not.toEqual(cnn)
    // the shipped pipeline declares this metric, so naming it is optional; the CNN's is refused for an MLP sweep
    const dry = await ws.json(["sweep", "train-mlp.lr=1e-3,3e-3", ...SMALL, "--metric", "evaluate-cnn.test_accuracy"])
    expect(dry.code).toBe(2)
    expect(dry.stderr).toContain("evaluate-cnn is not reached by the swept params (of train-mlp)")
  }, 300_000)
})
