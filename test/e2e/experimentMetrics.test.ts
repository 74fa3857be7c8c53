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
