/** The store's own failure: it cannot be opened, read or written (exit 3). */
import { Data } from "effect"

/** The store cannot be opened or is damaged beyond what a rerun repairs. Exit code 3. */
export class StoreError extends Data.TaggedError("StoreError")<{ readonly message: string }> {}
