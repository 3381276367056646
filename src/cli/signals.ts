/**
 * Stop signals (SIGINT, SIGTERM) as a person's Ctrl-C: the first asks a
 * command to finish (flush, close, say what was done), the next to quit at
 * once. Written by hand: it is a few lines of policy on `process.on`, which
 * no signal library decides for us.
 */

/**
 * A stop signal within this many ms of the one before is that same request
 * delivered twice, not a second Ctrl-C: GNU `timeout -s INT` signals its
 * command and then its own process group, which holds the command (so does
 * a shell's job control when a parent passes a signal on), and the two
 * arrive within a ms or so; a person pressing Ctrl-C again takes longer.
 */
export const SIGNAL_REPEAT_MS = 150

/**
 * Call `first(sig)` at the first SIGINT or SIGTERM and `again(sig)` at each
 * later one, a signal within {@link SIGNAL_REPEAT_MS} of the last one counted
 * being ignored. Returns a function that removes the handlers.
 */
export function onStopSignals(first: (sig: NodeJS.Signals) => void, again: (sig: NodeJS.Signals) => void): () => void {
  let count = 0
  let last = Number.NEGATIVE_INFINITY
  const handler = (sig: NodeJS.Signals): void => {
    const now = performance.now()
    if (now - last < SIGNAL_REPEAT_MS) return
    last = now
    count++
    if (count === 1) first(sig)
    else again(sig)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}
