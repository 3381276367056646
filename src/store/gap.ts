// The `info` of a `gap` row (docs/FORMAT.md, "Event rows"): written by the
// recorder, read by `info` (total time disconnected) and by replay (gap
// lengths under --gaps, and the words it logs). One shape for all three.

/**
 * A gap row's `info` JSON. `start`/`end` are ISO-8601 UTC with ns;
 * `duration_ms` is `end - start` in milliseconds (fractional);
 * `attempts` counts failed connection attempts during the outage (absent in
 * recordings from earlier versions); `last_error` is the last failed
 * attempt's reason when it differs from `reason`; `until_stop` marks an
 * outage ended by the recording's stop. Reasons are already masked.
 */
export interface GapInfo {
  start: string
  end: string
  duration_ms: number
  reason: string
  attempts?: number
  last_error?: string
  until_stop?: true
}

/** The `info` text of a gap row. */
export function gapInfoText(g: GapInfo): string {
  return JSON.stringify(g)
}

/**
 * The fields of a gap row's `info` that have their documented types; `{}`
 * for null, unparseable or non-object text (a damaged or hand-made row is
 * still a gap, only without details).
 */
export function parseGapInfo(info: string | null | undefined): Partial<GapInfo> {
  if (!info) return {}
  let v: unknown
  try {
    v = JSON.parse(info)
  } catch {
    return {}
  }
  if (!v || typeof v !== 'object') return {}
  const o = v as Record<string, unknown>
  const g: Partial<GapInfo> = {}
  if (typeof o.start === 'string') g.start = o.start
  if (typeof o.end === 'string') g.end = o.end
  if (typeof o.duration_ms === 'number' && Number.isFinite(o.duration_ms)) g.duration_ms = o.duration_ms
  if (typeof o.reason === 'string') g.reason = o.reason
  if (typeof o.attempts === 'number') g.attempts = o.attempts
  if (typeof o.last_error === 'string') g.last_error = o.last_error
  if (o.until_stop === true) g.until_stop = true
  return g
}
