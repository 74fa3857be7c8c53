/** Printing a plan (`run --dry-run`, `status`): one line or one JSON event per stage. */
import type { PlannedStage } from "../pipelines/plan.js"

export type PlanState = "fresh" | "stale" | "pending"

export const planState = (p: PlannedStage): { state: PlanState; key: string | null; reason: string } => {
  const d = p.decision
  switch (d._tag) {
    case "Cached":
      return { state: "fresh", key: d.key, reason: d.note }
    case "Run":
      return { state: "stale", key: d.key, reason: d.reason }
    case "Blocked":
      return {
        state: "pending",
        key: null,
        reason: `waits for ${d.on.join(", ")}; runs if ${d.on.length > 1 ? "their outputs change" : "its output changes"}`
      }
  }
}

/** For --check: exit 1 when anything would run, with a line that says so. */
export const checkPlan = (planned: ReadonlyArray<PlannedStage>): { ok: boolean; line: string } => {
  const behind = planned.filter((p) => p.decision._tag !== "Cached").map((p) => p.id)
  return behind.length === 0
    ? { ok: true, line: "check: every stage is up to date" }
    : { ok: false, line: `check failed: ${behind.length} stage${behind.length === 1 ? "" : "s"} would run (${behind.join(", ")})` }
}

export const planLines = (planned: ReadonlyArray<PlannedStage>, json: boolean): Array<string> => {
  const rows = planned.map((p) => ({ stage: p.id, ...planState(p) }))
  if (json) {
    const counts = { fresh: 0, stale: 0, pending: 0 }
    for (const r of rows) counts[r.state]++
    return [...rows.map((r) => JSON.stringify({ event: "plan", ...r })), JSON.stringify({ event: "summary", ...counts })]
  }
  const width = Math.max(...rows.map((r) => r.stage.length))
  const label = { fresh: "fresh  ", stale: "stale  ", pending: "pending" }
  return rows.map((r) => `${r.stage.padEnd(width)}  ${label[r.state]}  ${r.reason}`)
}
