/**
 * Timings and other facts of the machine a run happened on (wall times, throughput, per-image inference
 * times) are kept out of artifacts: an artifact's hash must depend only on what was computed, so that the same
 * training gives the same `model` and what reads it stays cached. They go to the run's record (the stage's
 * headline figures) and its log instead.
 */

/** Fields of a training record that are timings, not results. */
export const TRAINING_TIMINGS = ["images_per_s", "seconds"] as const

/** R without its timings (each member of a union on its own: a step record stays a step record). */
export type WithoutTimings<R> = R extends unknown ? Omit<R, (typeof TRAINING_TIMINGS)[number]> : never

/** A training record (step or epoch) as it is written into an artifact: without its timings. */
export const withoutTimings = <R extends object>(r: R): WithoutTimings<R> => {
  const { images_per_s: _i, seconds: _s, ...rest } = r as R & { images_per_s?: unknown; seconds?: unknown }
  return rest as WithoutTimings<R>
}
