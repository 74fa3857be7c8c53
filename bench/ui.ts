/**
 * Dashboard benchmark (run by bench/run.mjs, which bundles this file): `pipe ui` on the benchmark store
 * (benchStore.ts: 10,000 runs in 100 sweeps, each point an experiment), then the time to the first byte of its
 * pages, `samples` requests each (the median), and the server's resident memory after them.
 * Prints one JSON line of results.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { buildStore } from "./benchStore.js"

const [cli, samplesArg, countArg] = process.argv.slice(2) as [string, string, string | undefined]
const SAMPLES = Number(samplesArg)
const COUNT = Number(countArg ?? 10_000)
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Milliseconds from sending a GET to its response's first byte, and the whole body's size. */
const ttfb = (port: number, path: string) =>
  new Promise<{ ms: number; status: number; bytes: number }>((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const req = request({ host: "127.0.0.1", port, path, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      let first = 0
      let bytes = 0
      res.once("data", () => (first = Number(process.hrtime.bigint() - t0) / 1e6))
      res.on("data", (c: Buffer) => (bytes += c.length))
      res.on("end", () => resolve({ ms: first || Number(process.hrtime.bigint() - t0) / 1e6, status: res.statusCode ?? 0, bytes }))
    })
    req.on("error", reject)
    req.end()
  })

const dir = mkdtempSync(join(tmpdir(), "pipe-bench-ui-"))
const main = async () => {
  const { root, sweeps, buildSeconds } = buildStore(dir, COUNT)
  const server = spawn(process.execPath, [cli, "ui", "--port", "0", "--json"], { cwd: dir, env: { ...process.env, PIPE_STORE: root }, stdio: ["ignore", "pipe", "inherit"] })
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server.stdout! }).once("line", resolve)
      server.once("exit", (code) => reject(new Error(`pipe ui exited (${code})`)))
    })
    const { port } = JSON.parse(line) as { port: number }
    const mid = 2 + Math.floor(COUNT / 2)
    const pages = ["/runs", `/runs/${mid}`, "/runs/1", "/experiments", "/experiments?where=train.lr%3E%3D0.5&sort=-train.accuracy", `/sweeps/${sweeps[50]}`]
    const results = []
    for (const path of pages) {
      const samples: Array<number> = []
      let last = { status: 0, bytes: 0 }
      for (let i = 0; i < SAMPLES; i++) {
        const r = await ttfb(port, path)
        if (r.status !== 200) throw new Error(`GET ${path}: ${r.status}`)
        samples.push(r.ms)
        last = r
      }
      results.push({ path, ms: median(samples), first: samples[0], bytes: last.bytes })
    }
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))?.[1] ?? 0) / 1024
    console.log(JSON.stringify({ runs: COUNT + 1, buildSeconds, results, rssMiB: rss }))
  } finally {
    server.kill("SIGINT")
  }
}
main()
  .catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  .finally(() => {
    if (process.env["PIPE_BENCH_KEEP"]) console.error(`kept (PIPE_BENCH_KEEP): ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  })
