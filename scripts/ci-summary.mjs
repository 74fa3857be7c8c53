#!/usr/bin/env node
// The closing line of a CI log: `N passed, M failed` (and `, K skipped` when K > 0), printed last, from
// vitest's JSON report (`--reporter=json --outputFile.json=FILE`). Tools that read CI logs know that line and
// not vitest's own summary. A test file that failed without a failing test (it did not load, a hook threw)
// counts as one failure. Exit 1 when anything failed, when no test ran, or when the report is missing or
// unreadable (the tests did not run to the end); 0 otherwise.
//
//   node scripts/ci-summary.mjs FILE
import { readFileSync } from "node:fs"

const count = (v) => (Number.isInteger(v) && v >= 0 ? v : 0)

/** The summary of a parsed report: { passed, failed, skipped, notes }, notes being lines to print first. */
const summarize = (report) => {
  const notes = []
  const files = Array.isArray(report.testResults) ? report.testResults : []
  const broken = files.filter(
    (f) => f?.status === "failed" && !(f.assertionResults ?? []).some((a) => a?.status === "failed")
  )
  for (const f of broken) {
    const why = typeof f.message === "string" && f.message.trim() ? `: ${f.message.trim().split("\n")[0]}` : ""
    notes.push(`failed to run: ${f.name}${why}`)
  }
  const passed = count(report.numPassedTests)
  const failed = count(report.numFailedTests) + broken.length
  const skipped = count(report.numPendingTests) + count(report.numTodoTests)
  if (report.success === false && failed === 0) notes.push("vitest reported errors outside the tests (see above)")
  return { passed, failed, skipped, notes, ok: failed === 0 && passed + failed > 0 && report.success !== false }
}

const line = ({ passed, failed, skipped }) =>
  `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`

const main = (file) => {
  let report
  try {
    report = JSON.parse(readFileSync(file, "utf8"))
    if (typeof report !== "object" || report === null || Array.isArray(report)) throw new Error("not a vitest JSON report")
  } catch (e) {
    console.log(`no test report at ${file} (${e.code === "ENOENT" ? "the tests did not run to the end" : e.message})`)
    console.log(line({ passed: 0, failed: 0, skipped: 0 }))
    return 1
  }
  const s = summarize(report)
  for (const n of s.notes) console.log(n)
  if (s.passed + s.failed === 0) console.log("no test ran")
  console.log(line(s))
  return s.ok ? 0 : 1
}

if (process.argv.length !== 3) {
  console.error("usage: node scripts/ci-summary.mjs VITEST_JSON_REPORT")
  process.exit(2)
}
process.exitCode = main(process.argv[2])
