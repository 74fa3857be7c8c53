/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The analyze stage and `pipe report` through the built CLI on a tiny subset of the real data, and the report
 * checked in a real browser: Debian's chromium driven by playwright-core (`.ci/run` installs it), every figure
 * rendered, no console errors, a screenshot saved.
 */
import { chromium } from "playwright-core"
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { extname, join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
const SMALL = [
  "--set", "download.limit=500",
  "--set", "train-mlp.epochs=1",
  "--set", "train-cnn.epochs=1",
  "--set", "analyze.pca_points=500",
  "--set", "analyze.tsne_points=150",
  "--set", "analyze.tsne_iterations=250"
]
const CHROMIUM = process.env["PIPE_CHROMIUM"] ?? "/usr/bin/chromium"
const SCREENSHOTS = resolve(import.meta.dirname, "../../test-results")

let ws: Workspace
let report: Record<string, string>
let figures: Array<{ id: string; title: string; files: Array<string> }>
let runOf: Record<string, number>
let analyzeOutput: string

beforeAll(async () => {
  ws = workspace({ "pipeline.yaml": PIPELINE })
  const r = await ws.json(["run", ...SMALL])
  expect(r.code, r.stderr).toBe(0)
  runOf = Object.fromEntries(r.events.filter((e) => e["event"] === "stage").map((e) => [e["stage"], e["run"]]))
  const analyze = r.events.find((e) => e["stage"] === "analyze")!
  expect(analyze["status"]).toBe("ran")
  analyzeOutput = analyze["output"]
  report = ws.artifact(analyze["output"])
  figures = JSON.parse(readFileSync(report["report.json"]!, "utf8")).figures
}, 180_000)

afterAll(() => ws?.cleanup())

describe("the analyze stage", () => {
  it("writes every figure of the seed, the comparison table and a self-contained page", () => {
    const ids = figures.map((f) => f.id)
    for (const id of ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6"]) expect(ids).toContain(id)
    for (const run of ["train-mlp", "train-cnn"]) {
      expect(ids).toContain(`fig7-errors-${run}`)
      expect(ids).toContain(`fig7-confusion-${run}`)
    }
    expect(ids.slice(-4)).toEqual(expect.arrayContaining(["fig8-t-shirt-top-as-shirt", "fig8-shirt-as-t-shirt-top"]))
    for (const f of figures) {
      // a gallery of a pair the model never confused is an image with a note and no tiles
      const shown = /^The first (\d+) of the (\d+) /.exec((f as { caption?: string }).caption ?? "")
      const empty = f.id.startsWith("fig8") && shown?.[2] === "0"
      for (const file of f.files) {
        if (empty) expect(existsSync(report[file]!), file).toBe(true)
        else expect(statSync(report[file]!).size, file).toBeGreaterThan(200)
      }
    }
    // the best run's galleries show real errors: at least one of them has images
    expect(figures.filter((f) => f.id.startsWith("fig8")).some((f) => /^The first [1-9]/.test((f as { caption?: string }).caption ?? ""))).toBe(true)
    const md = readFileSync(report["summary.md"]!, "utf8")
    expect(md).toMatch(/\| train-mlp \| mlp \| 101,770 \| [\d.]+ \| \d+\.\d\d% \|/)
    expect(md).toMatch(/\| train-cnn \| cnn \| 421,738 \|/)
    const html = readFileSync(report["report.html"]!, "utf8")
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//) // nothing fetched from a network
    expect((html.match(/<figure /g) ?? []).length).toBe(figures.length)
  })

  it("states where its numbers come from at the top: pipe version, commit, data subset, runs", () => {
    const md = readFileSync(report["summary.md"]!, "utf8").split("\n")
    expect(md.slice(2, 6)).toEqual([
      "- pipe version: 0.1.0",
      "- git commit: none (not run in a git repository)",
      "- data: subset: the first 500 images of each split (download limit=500)",
      `- evaluations: train-mlp (evaluate #${runOf["evaluate-mlp"]}, train #${runOf["train-mlp"]}); ` +
        `train-cnn (evaluate #${runOf["evaluate-cnn"]}, train #${runOf["train-cnn"]})`
    ])
    const html = readFileSync(report["report.html"]!, "utf8")
    expect(html).toContain(`<dd data-field="data">subset: the first 500 images of each split (download limit=500)</dd>`)
    expect(html.indexOf(`id="provenance"`)).toBeLessThan(html.indexOf(`id="comparison"`))
  })

  it("names the classes of Fig. 1's rows, and the steps and flips of Fig. 4", () => {
    const fig1 = readFileSync(report["figures/fig1-samples-per-class.svg"]!, "utf8")
    for (const c of ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]) expect(fig1).toContain(`>${c}</text>`)
    const fig4 = readFileSync(report["figures/fig4-augmentation-steps.svg"]!, "utf8")
    for (const c of ["original", "zero-padded by 4", "random crop", "flip", "normalised"]) expect(fig4).toContain(`>${c}</text>`)
    // the seed's policy flips with probability 0.5: each row says whether its image was flipped
    expect((fig4.match(/: (not )?flipped<\/text>/g) ?? []).length).toBe(6)
  })

  it("is cached on a rerun, and changing only its params reruns only it", async () => {
    const again = await ws.json(["run", ...SMALL])
    expect(summary(again.events)).toMatchObject({ ran: 0 })
    const changed = await ws.json(["run", ...SMALL, "--set", "analyze.gallery_images=8"])
    const ran = Object.entries(statuses(changed.events)).filter(([, s]) => s === "ran").map(([id]) => id)
    expect(ran).toEqual(["analyze"])
  })
})

describe("pipe report", () => {
  it("rebuilds the report from the store for the pipeline's latest runs and for one run", async () => {
    const out = join(ws.dir, "out")
    const r = await ws.json(["report", "-o", out, ...SMALL])
    expect(r.code, r.stderr).toBe(0)
    expect(r.events[0]!["runs"].map((x: any) => x.label)).toEqual(["train-mlp", "train-cnn"])
    expect(r.events[0]!["figures"]).toEqual(figures.map((f) => f.id))
    expect(existsSync(join(out, "report.html"))).toBe(true)
    const one = await ws.json(["report", "train-cnn", "-o", join(ws.dir, "one"), ...SMALL])
    expect(one.events[0]!["runs"].map((x: any) => x.label)).toEqual(["train-cnn"])
    const bad = await ws.pipe(["report", "download", "-o", join(ws.dir, "bad")])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("has no evaluation to report on")
  })

  it("copies an analyze run's stored report out of the store instead of computing it again", async () => {
    const out = join(ws.dir, "stored")
    // No --set: computed again, the report would use the default t-SNE settings and differ from the stored one.
    const r = await ws.pipe(["report", `#${runOf["analyze"]}`, "-o", out])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`copied the stored report of run #${runOf["analyze"]} (analyze): ${figures.length} figures; report: `)
    expect(r.stderr).not.toContain("t-SNE")
    for (const file of ["report.html", "summary.md", "report.json", ...figures.flatMap((f) => f.files)]) {
      expect(readFileSync(join(out, file)).equals(readFileSync(report[file]!)), file).toBe(true)
    }
    // the copies are the user's: a second report replaces them (the run named by its output's hash this time)
    const again = await ws.json(["report", analyzeOutput.slice(0, 12), "-o", out])
    expect(again.code, again.stderr).toBe(0)
    expect(again.events[0]).toMatchObject({ copied: { run: runOf["analyze"] }, figures: figures.map((f) => f.id) })
    expect(again.events[0]!["runs"].map((x: any) => x.label).sort()).toEqual(["train-cnn", "train-mlp"])
  })

  it("compares a sweep's points side by side, each labelled by the swept params that tell it apart, with the sweep charted", async () => {
    const s = await ws.json(["sweep", "train-mlp.lr=0.002,0.004", "train-cnn.lr=0.002,0.004", ...SMALL])
    expect(s.code, s.stderr).toBe(0)
    const sweep = summary(s.events)!["sweep"]
    const r = await ws.json(["report", "--sweep", String(sweep), "-o", join(ws.dir, "sweep"), ...SMALL])
    expect(r.code, r.stderr).toBe(0)
    // each model's evaluation is shared by the two points that differ only in the other model's rate
    const labels = r.events[0]!["runs"].map((x: any) => x.label)
    expect([...labels].sort()).toEqual(["train-cnn.lr=0.002", "train-cnn.lr=0.004", "train-mlp.lr=0.002", "train-mlp.lr=0.004"])
    const md = readFileSync(join(ws.dir, "sweep", "summary.md"), "utf8")
    expect(md).toContain("| train-mlp.lr=0.002 |")
    expect(md).toContain(`- sweep: ${sweep}, points 1, 2, 3, 4`)
    expect(r.events[0]!["figures"]).toEqual(expect.arrayContaining(["fig9-train-mlp-lr", "fig9-train-cnn-lr", "fig10"]))
    const chart = readFileSync(join(ws.dir, "sweep", "figures", "fig9-train-mlp-lr.svg"), "utf8")
    expect(chart).toContain("evaluate-mlp.test_accuracy versus train-mlp.lr")

    // The pipeline's latest evaluations now come from the sweep: each says which point made it.
    const latest = await ws.json(["report", "-o", join(ws.dir, "latest"), ...SMALL])
    expect(latest.code, latest.stderr).toBe(0)
    const [mlp, cnn] = latest.events[0]!["runs"]
    expect(mlp.label).toMatch(new RegExp(`^train-mlp \\(sweep ${sweep} points? [\\d, ]+: train-mlp\\.lr=0\\.00[24]\\)$`))
    expect(cnn.label).toMatch(new RegExp(`^train-cnn \\(sweep ${sweep} points? [\\d, ]+: train-cnn\\.lr=0\\.00[24]\\)$`))
    expect(mlp.sweep.id).toBe(sweep)
    expect(latest.events[0]!["notes"]).toHaveLength(2)
    expect(latest.events[0]!["notes"][0]).toContain(`pipe report --sweep ${sweep} compares all its points`)
    const text = await ws.pipe(["report", "-o", join(ws.dir, "latest"), ...SMALL])
    expect(text.stdout).toContain(`note: train-mlp: evaluation run #${mlp.run} was made by sweep ${sweep}`)
  })
})

describe("the report in a browser", () => {
  let server: Server
  afterAll(() => server?.close())

  it("renders every figure in headless Chromium without console errors", async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium, or set PIPE_CHROMIUM`).toBe(true)
    const types: Record<string, string> = { ".html": "text/html", ".svg": "image/svg+xml", ".png": "image/png" }
    // Served as a user would open it: report.html from the artifact, over HTTP on localhost.
    server = createServer((req, res) => {
      const path = req.url === "/" ? "report.html" : req.url!.slice(1)
      const file = report[path]
      if (!file) return void res.writeHead(404).end()
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(readFileSync(file))
    })
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok))
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] })
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
      const errors: Array<string> = []
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()))
      page.on("pageerror", (e) => errors.push(e.message))
      page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`))
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { waitUntil: "load" })
      const rendered = await page.evaluate(() =>
        [...document.querySelectorAll("figure")].map((f) => {
          const el = f.querySelector(":scope > svg, :scope > img")
          const box = el?.getBoundingClientRect()
          return {
            id: f.id,
            title: f.querySelector("h3")?.textContent ?? "",
            tag: el?.tagName.toLowerCase() ?? null,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            loaded: el instanceof HTMLImageElement ? el.complete && el.naturalWidth > 0 : el ? el.childElementCount > 0 : false
          }
        })
      )
      expect(rendered.map((r) => r.id)).toEqual(figures.map((f) => f.id))
      for (const [i, r] of rendered.entries()) {
        expect(r.title).toBe(figures[i]!.title)
        expect(r.loaded, r.id).toBe(true)
        expect(r.width, r.id).toBeGreaterThan(100)
        expect(r.height, r.id).toBeGreaterThan(50)
      }
      expect(await page.locator("#comparison tbody tr").count()).toBe(2)
      expect(errors).toEqual([])
      mkdirSync(SCREENSHOTS, { recursive: true })
      const shot = join(SCREENSHOTS, "report.png")
      await page.screenshot({ path: shot, fullPage: true, timeout: 60_000 })
      expect(statSync(shot).size).toBeGreaterThan(10_000)
    } finally {
      await browser.close()
    }
  }, 120_000)
})
