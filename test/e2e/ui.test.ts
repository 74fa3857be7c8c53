/**
 * `pipe ui` in a real browser (Debian's chromium driven by playwright-core), over the store of a real tiny
 * pipeline: the experiments table lists its experiments, a run shows its curves, compare shows two runs side by
 * side, the sweep page draws its parallel coordinates, the pipeline page colours its DAG, and a run started
 * during the test appears and its curve grows without a reload. Screenshots of each page go to test-results/.
 */
import { existsSync, mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { chromium, type Browser, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

const CHROMIUM = process.env["PIPE_CHROMIUM"] ?? "/usr/bin/chromium"
const SHOTS = resolve(import.meta.dirname, "../../test-results")

const PIPELINE = `
name: ui
metric: { name: evaluate.test_accuracy, goal: max }
stages:
  download: { kind: download, params: { limit: 600 } }
  split: { kind: split, needs: [download], params: { ratio: 0.8, seed: 0 } }
  plain: { kind: augment, needs: [download], params: { pad: 0, flip: 0, mean: 0, std: 1 } }
  train:
    kind: train
    needs: [split, plain]
    params: { model: mlp, batch_size: 64, epochs: 2 }
  evaluate: { kind: evaluate, needs: [train, split] }
`

let ws: Workspace
let server: ReturnType<Workspace["spawn"]>
let base = ""
let browser: Browser
let page: Page
const errors: Array<string> = []

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `ui-${name}.png`), fullPage: true })

/** The points a chart's SVG draws: Vega labels each point mark "epoch: 1; accuracy: 0.61; series: val_acc". */
const chartPoints = (chart: string) =>
  page.$$eval(`[data-chart="${chart}"] path[aria-roledescription="point"]`, (els) =>
    els.map((e) => {
      const [x, y, series] = (e.getAttribute("aria-label") ?? "").split("; ").map((kv) => kv.slice(kv.indexOf(": ") + 2))
      return { x: Number(x), y: Number(y), series: series ?? "" }
    })
  )

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium, or set PIPE_CHROMIUM`).toBe(true)
  mkdirSync(SHOTS, { recursive: true })
  ws = workspace({ "pipeline.yaml": PIPELINE })
  const run = await ws.pipe(["run"])
  expect(run.code, run.stderr).toBe(0)
  const sweep = await ws.pipe(["sweep", "train.lr=0.0005,0.005"])
  expect(sweep.code, sweep.stderr).toBe(0)
  server = ws.spawn(["ui", "--port", "0", "--json"])
  const line = await new Promise<string>((ok, fail) => {
    createInterface({ input: server.stdout! }).once("line", ok)
    server.catch(fail)
  })
  const listening = JSON.parse(line) as { event: string; url: string; host: string }
  expect(listening).toMatchObject({ event: "listening", host: "127.0.0.1" })
  base = listening.url.replace(/\/$/, "")
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] })
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  page.on("pageerror", (e) => errors.push(e.message))
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()))
}, 240_000)

afterAll(async () => {
  await browser?.close()
  server?.kill("SIGINT")
  await server?.catch(() => {})
  ws?.cleanup()
})

describe("pipe ui", () => {
  it("lists the experiments, and shows a run's curves when one is clicked", async () => {
    const r = await page.goto(`${base}/experiments`)
    expect(r?.status()).toBe(200)
    const rows = await page.$$eval("#experiments tbody tr", (trs) => trs.map((tr) => tr.querySelector("td:nth-child(2)")?.textContent))
    expect(rows).toEqual(["e3", "e2", "e1"])
    const header = await page.$$eval("#experiments thead th", (ths) => ths.map((th) => th.textContent))
    expect(header).toContain("train.lr")
    expect(header).toContain("evaluate.test_accuracy")
    await shot("experiments")
    // filtered and sorted on the server, with the CLI's language
    await page.goto(`${base}/experiments?where=${encodeURIComponent("train.lr>=0.001")}&sort=-evaluate.test_accuracy`)
    expect(await page.$$eval("#experiments tbody tr", (trs) => trs.length)).toBe(2)
    // a misspelt field is an error that names the closest one, as the CLI's is
    const typo = await page.goto(`${base}/experiments?where=${encodeURIComponent("train.lrr>=1")}`)
    expect(typo?.status()).toBe(400)
    expect(await page.textContent(".error")).toBe("no experiment of ui has a param or figure 'train.lrr' (did you mean 'train.lr'?)")

    await page.goto(`${base}/experiments`)
    await page.click("#experiments tbody tr:last-child td:nth-child(2) a")
    expect(page.url()).toMatch(/\/experiments\/1$/)
    await page.click("a[href='/runs/4']")
    expect(page.url()).toMatch(/\/runs\/4$/)
    expect(await page.textContent("h1")).toBe("Run #4: train")
    const acc = await chartPoints("accuracy")
    expect(acc.filter((p) => p.series === "val_acc").map((p) => p.x)).toEqual([1, 2])
    expect(acc.every((p) => p.y > 0 && p.y <= 1)).toBe(true)
    expect((await chartPoints("loss")).map((p) => p.series)).toContain("train_loss")
    // its output's files, each a link the store serves
    const files = await page.$$eval("a[href^='/files/']", (as) => as.map((a) => a.textContent))
    expect(files).toContain("config.json")
    await shot("run")
  }, 60_000)

  it("compares two runs side by side, their differing params marked and their curves overlaid", async () => {
    await page.goto(`${base}/experiments`)
    await page.check("#experiments tr[data-exp='2'] input[name=sel]")
    await page.check("#experiments tr[data-exp='3'] input[name=sel]")
    await page.click("button[data-compare]")
    await page.waitForURL(/\/compare\?exp=3&exp=2$/)
    const differs = await page.$$eval("#compare-params tr.differs td:first-child", (tds) => tds.map((t) => t.textContent))
    expect(differs).toContain("train.lr")
    expect(differs).not.toContain("download.limit")
    expect(await page.$$eval("#compare-params thead th", (ths) => ths.map((t) => t.textContent))).toEqual(["", "e3", "e2"])
    const series = new Set((await chartPoints("accuracy")).map((p) => p.series))
    expect(series).toEqual(new Set(["e3 train val_acc", "e2 train val_acc"]))
    await shot("compare")
  }, 60_000)

  it("draws a sweep's points in parallel coordinates, and the pipeline's DAG with each stage's state", async () => {
    await page.goto(`${base}/sweeps`)
    await page.click("#sweeps a[href='/sweeps/1']")
    expect(await page.$$eval("#points tbody tr", (trs) => trs.length)).toBe(2)
    expect(await page.$$eval("[data-chart=parallel] path[aria-roledescription='line mark']", (ps) => ps.length)).toBeGreaterThanOrEqual(2)
    expect(await page.isVisible("[data-chart='scatter-train.lr'] svg")).toBe(true)
    await shot("sweep")
    await page.goto(`${base}/pipeline`)
    const states = await page.$$eval("#stages tbody tr", (trs) => trs.map((tr) => [tr.getAttribute("data-stage"), tr.getAttribute("data-state")]))
    expect(states).toEqual(["download", "split", "plain", "train", "evaluate"].map((s) => [s, "fresh"]))
    expect(await page.$$eval("#dag g.node", (gs) => gs.length)).toBe(5)
    await shot("pipeline")
  }, 60_000)

  it("shows a run started meanwhile, and grows its curve without a reload", async () => {
    errors.length = 0
    await page.goto(`${base}/runs`)
    await page.evaluate(() => ((window as unknown as { stay: number }).stay = 1))
    const running = ws.spawn(["run", "--set", "train.model=cnn", "--set", "train.epochs=6", "--set", "train.lr=0.002"])
    try {
      const row = await page.waitForSelector("#runs tr.running", { timeout: 60_000 })
      expect(await row.$eval("td:nth-child(3)", (td) => td.textContent)).toBe("train")
      expect(await page.evaluate(() => (window as unknown as { stay?: number }).stay)).toBe(1)
      await row.$eval("td:nth-child(2) a", (a) => (a as HTMLAnchorElement).click())
      await page.waitForSelector("#run-status")
      await page.evaluate(() => ((window as unknown as { stay: number }).stay = 2))
      const epochs = () => page.$eval("#run-status", (p) => Number(p.getAttribute("data-epochs")))
      const first = await epochs()
      await page.waitForFunction((n) => Number(document.querySelector("#run-status")?.getAttribute("data-epochs")) > n, first, { timeout: 90_000 })
      const grown = await (await chartPoints("accuracy")).filter((p) => p.series === "val_acc").length
      expect(grown).toBeGreaterThan(first)
      await shot("live")
      await page.waitForFunction(() => document.querySelector("#run-status")?.getAttribute("data-status") === "ok", undefined, { timeout: 120_000 })
      expect((await chartPoints("accuracy")).filter((p) => p.series === "val_acc").map((p) => p.x)).toEqual([1, 2, 3, 4, 5, 6])
      // the log's end: each epoch's summary, progress bars only as the last line
      const log = (await page.textContent("#log")) ?? ""
      expect(log).toMatch(/^epoch 6\/6: train loss /m)
      expect(log.split("\n").slice(0, -1).filter((l) => /\[[=> ]{8,}\]/.test(l))).toEqual([])
      // the same page all along
      expect(await page.evaluate(() => (window as unknown as { stay?: number }).stay)).toBe(2)
      expect((await running).exitCode).toBe(0)
      expect(errors).toEqual([])
    } finally {
      running.kill("SIGINT")
    }
  }, 240_000)
})
