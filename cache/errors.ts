/** The store's own failures: it cannot be opened, read or written (exit 3); a reference names nothing (exit 2). */
import { Data } from "effect"

/** The store cannot be opened or is damaged beyond what a rerun repairs. Exit code 3. */
export class StoreError extends Data.TaggedError("StoreError")<{ readonly message: string }> {}

/**
 * What a person typed (a run or artifact reference, a field of a query, a tag) names nothing, or more than one
 * thing: the message says what would. Commands turn it into a usage error (exit 2).
 */
export class RefError extends Error {}
