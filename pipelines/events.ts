/** What a run reports as it goes: the contract between the runner and the CLI's renderers. */

export type StageStatus = "ran" | "cached" | "failed" | "skipped"

export interface StageEvent {
  readonly stage: string
  readonly status: StageStatus
  readonly key: string | null
  /** Why it ran, why it was skipped, or how it was restored. */
  readonly reason: string
  readonly ms: number
  readonly run?: number
  readonly output?: string
  readonly error?: string
  readonly log?: string
  /** The stage's headline figures (its run's, also when restored from the cache). */
  readonly metrics?: Readonly<Record<string, unknown>>
}

export interface Summary {
  readonly ran: number
  readonly cached: number
  readonly failed: number
  readonly skipped: number
  readonly ms: number
}

export interface Reporter {
  readonly started: (stage: string, reason: string) => void
  readonly waiting: (stage: string, holderPid: number) => void
  readonly finished: (event: StageEvent) => void
  /** A line a running stage wrote to its log (shown live with --verbose). */
  readonly log?: (stage: string, line: string) => void
  /** A one-line status of a running stage's long work; null when that work ended. */
  readonly progress?: (stage: string, line: string | null) => void
}
