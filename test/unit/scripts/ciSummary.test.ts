/**
 * scripts/ci-summary.mjs: the `N passed, M failed[, K skipped]` line that ends the CI log, from vitest's JSON
 * report; and the end of .ci/run, which must print it even when the tests fail, and still exit non-zero.
 */
import { spawnSync } from "node:child_process"
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterEach, describe, expect, it } from "vitest"

const ROOT = resolve(import.meta.dirname, "../../..")
const SCRIPT = join(ROOT, "scripts/ci-summary.mjs")

let dir: string
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const summarize = (report: unknown) => {
  dir = mkdtempSync(join(tmpdir(), "ci-summary-"))
  const file = join(dir, "vitest.json")
  if (report !== undefined) writeFileSync(file, typeof report === "string" ? report : JSON.stringify(report))
  const r = spawnSync("node", [SCRIPT, file], { encoding: "utf8" })
  return { code: r.status, lines: r.stdout.trimEnd().split("\n"), stderr: r.stderr }
}

const file = (name: string, status: string, tests: Array<string>, message = "") => ({
  name,
  status,
  message,
  assertionResults: tests.map((s) => ({ status: s, title: "t" }))
})

const report = (o: Record<string, unknown>) => ({
  numTotalTests: 0,
  numPassedTests: 0,
  numFailedTests: 0,
  numPendingTests: 0,
  numTodoTests: 0,
  success: true,
  testResults: [],
  ...o
})

describe("ci-summary", () => {
  it("ends with N passed, M failed and exits 0 when all ran tests passed", () => {
    const r = summarize(report({ numPassedTests: 236, testResults: [file("a.test.ts", "passed", ["passed"])] }))
    expect(r.code).toBe(0)
    expect(r.lines).toEqual(["236 passed, 0 failed"])
  })

  it("adds skipped (pending and todo) only when there are some", () => {
    const r = summarize(report({ numPassedTests: 5, numPendingTests: 2, numTodoTests: 1 }))
    expect(r.code).toBe(0)
    expect(r.lines.at(-1)).toBe("5 passed, 0 failed, 3 skipped")
  })

  it("exits 1 when a test failed", () => {
    const r = summarize(report({ numPassedTests: 4, numFailedTests: 2, success: false }))
    expect(r.code).toBe(1)
    expect(r.lines.at(-1)).toBe("4 passed, 2 failed")
  })

  it("counts a test file that failed without a failing test (it did not load) as a failure, and names it", () => {
    const r = summarize(
      report({
        numPassedTests: 3,
        success: false,
        testResults: [file("/w/a.test.ts", "passed", ["passed", "passed", "passed"]), file("/w/b.test.ts", "failed", [], "Cannot find module './x.js'\n  at ...")]
      })
    )
    expect(r.code).toBe(1)
    expect(r.lines).toEqual(["failed to run: /w/b.test.ts: Cannot find module './x.js'", "3 passed, 1 failed"])
  })

  it("does not count a file twice when its own tests failed", () => {
    const r = summarize(report({ numPassedTests: 1, numFailedTests: 1, success: false, testResults: [file("a.test.ts", "failed", ["passed", "failed"])] }))
    expect(r.lines).toEqual(["1 passed, 1 failed"])
  })

  it("exits 1 when no test ran", () => {
    const r = summarize(report({}))
    expect(r.code).toBe(1)
    expect(r.lines).toEqual(["no test ran", "0 passed, 0 failed"])
  })

  it("exits 1 when vitest reports failure outside the tests", () => {
    const r = summarize(report({ numPassedTests: 7, success: false }))
    expect(r.code).toBe(1)
    expect(r.lines).toEqual(["vitest reported errors outside the tests (see above)", "7 passed, 0 failed"])
  })

  it("exits 1, still ending with the line, when the report is missing or unreadable", () => {
    const missing = summarize(undefined)
    expect(missing.code).toBe(1)
    expect(missing.lines).toEqual([`no test report at ${join(dir, "vitest.json")} (the tests did not run to the end)`, "0 passed, 0 failed"])
    rmSync(dir, { recursive: true, force: true })
    const garbled = summarize('{"numPassedTests": 3,')
    expect(garbled.code).toBe(1)
    expect(garbled.lines.at(-1)).toBe("0 passed, 0 failed")
  })
})

describe(".ci/run's tests step", () => {
  /**
   * Runs the end of .ci/run (from `echo "--- tests"`) under `set -euo pipefail`, in a scratch directory, with
   * an `npm` that writes `report` where vitest's JSON reporter would and exits with `npmCode`.
   */
  const testsStep = (report: unknown, npmCode: number, screenshot = true) => {
    dir = mkdtempSync(join(tmpdir(), "ci-run-"))
    const ci = readFileSync(join(ROOT, ".ci/run"), "utf8")
    const tail = ci.slice(ci.indexOf('echo "--- tests"'))
    expect(tail.length).toBeGreaterThan(20)
    mkdirSync(join(dir, "bin"))
    mkdirSync(join(dir, "scripts"))
    copyFileSync(SCRIPT, join(dir, "scripts/ci-summary.mjs"))
    if (screenshot) {
      mkdirSync(join(dir, "test-results"))
      writeFileSync(join(dir, "test-results/report.png"), "png")
    }
    writeFileSync(join(dir, "report.json"), JSON.stringify(report))
    writeFileSync(
      join(dir, "bin/npm"),
      `#!/bin/sh\necho "npm $*"\nfor a in "$@"; do case "$a" in --outputFile.json=*) cp "${join(dir, "report.json")}" "\${a#--outputFile.json=}";; esac; done\nexit ${npmCode}\n`
    )
    chmodSync(join(dir, "bin/npm"), 0o755)
    writeFileSync(join(dir, "step.sh"), `set -euo pipefail\n${tail}`)
    const r = spawnSync("bash", ["step.sh"], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env["PATH"]}` } })
    return { code: r.status, lines: r.stdout.trimEnd().split("\n") }
  }

  it("runs npm test with the default and JSON reporters and ends the log with the count", () => {
    const r = testsStep(report({ numPassedTests: 9 }), 0)
    expect(r.code).toBe(0)
    expect(r.lines[1]).toMatch(/^npm test -- --reporter=default --reporter=json --outputFile\.json=\S+vitest\.json$/)
    expect(r.lines.at(-1)).toBe("9 passed, 0 failed")
  })

  it("prints the count after failing tests and exits non-zero", () => {
    const r = testsStep(report({ numPassedTests: 8, numFailedTests: 1, success: false }), 1)
    expect(r.code).not.toBe(0)
    expect(r.lines.at(-1)).toBe("8 passed, 1 failed")
  })

  it("exits non-zero when the report's screenshot is missing, still ending with the count", () => {
    const r = testsStep(report({ numPassedTests: 9 }), 0, false)
    expect(r.code).not.toBe(0)
    expect(r.lines.at(-1)).toBe("9 passed, 0 failed")
  })
})
