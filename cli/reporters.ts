/** How `pipe run` shows progress: lines for people (why each stage ran), or NDJSON events for scripts. */
import { existsSync, readFileSync } from "node:fs"
import { relative } from "node:path"
import type { Reporter, StageEvent, Summary } from "../pipelines/events.js"

export const seconds = (ms: number) => (ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`)

const LOG_TAIL = 20

export const logTail = (path: string | undefined, lines = LOG_TAIL): Array<string> => {
  if (!path || !existsSync(path)) return []
  const text = readFileSync(path, "utf8").replace(/\n$/, "")
  return text ? text.split("\n").slice(-lines) : []
}

const display = (p: string) => {
  const r = relative(process.cwd(), p)
  return r.startsWith("..") ? p : r
}

const figure = (v: unknown) =>
  typeof v === "number" && !Number.isInteger(v) ? (Math.abs(v) < 10 ? v.toFixed(4) : v.toFixed(1)) : String(v)

/** "test_accuracy 0.9120 · test_loss 0.2500 · backend wasm" */
export const metricsLine = (m: Readonly<Record<string, unknown>>): string =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${figure(v)}`)
    .join(" · ")

/** How often long work prints a plain progress line when stderr is not a terminal. */
const PROGRESS_EVERY_MS = 15_000

/**
 * A running stage's log lines and progress on the terminal: log lines echoed live with --verbose (`echo`:
 * where to), else the progress line redrawn in place on a terminal, or printed now and then elsewhere (CI logs).
 */
export const liveOutput = (echo: "none" | "stdout" | "stderr"): Required<Pick<Reporter, "log" | "progress">> => {
  let lastProgress = Date.now()
  return {
    log: (_stage, line) => {
      if (echo === "stdout") process.stdout.write(`${line}\n`)
      else if (echo === "stderr") process.stderr.write(`${line}\n`)
    },
    progress: (stage, line) => {
      if (echo !== "none") return // --verbose already shows the stage's own lines
      if (line === null) {
        if (process.stderr.isTTY) process.stderr.write("\r\x1b[K")
      } else if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K  ${stage}: ${line}`)
      else if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = Date.now()
        process.stderr.write(`  ${stage}: ${line}\n`)
      }
    }
  }
}

export const textReporter = (out: (line: string) => void, err: (line: string) => void, echo: "none" | "stdout" | "stderr" = "none"): Reporter => ({
  ...liveOutput(echo),
  started: (stage, reason) => out(`▶ ${stage}: running (${reason})`),
  waiting: (stage, pid) => err(`… ${stage}: another pipe process (pid ${pid}) is running this stage; waiting for it`),
  finished: (e: StageEvent) => {
    switch (e.status) {
      case "ran":
        out(`✓ ${e.stage}: ran in ${seconds(e.ms)}`)
        if (e.metrics) out(`  ${metricsLine(e.metrics)}`)
        return
      case "cached":
        out(`· ${e.stage}: cached (${e.reason})`)
        if (e.metrics) out(`  ${metricsLine(e.metrics)}`)
        return
      case "skipped":
        return out(`- ${e.stage}: skipped (${e.reason})`)
      case "failed": {
        out(`✗ ${e.stage}: failed after ${seconds(e.ms)}: ${e.error}`)
        const tail = logTail(e.log)
        if (tail.length > 0) {
          out(`  last ${tail.length} lines of the log:`)
          for (const l of tail) out(`  | ${l}`)
        }
        if (e.log) out(`  full log: ${display(e.log)}`)
      }
    }
  }
})

export const summaryText = (s: Summary): string =>
  `${s.ran} ran, ${s.cached} cached, ${s.failed} failed, ${s.skipped} skipped in ${seconds(s.ms)}`

export const jsonReporter = (out: (line: string) => void, err: (line: string) => void, echo: "none" | "stdout" | "stderr" = "none"): Reporter => ({
  ...liveOutput(echo),
  started: () => {},
  waiting: (stage, pid) => err(`… ${stage}: another pipe process (pid ${pid}) is running this stage; waiting for it`),
  finished: (e) => out(JSON.stringify({ event: "stage", ...e }))
})
