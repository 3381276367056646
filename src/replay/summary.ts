import {plural} from '../util/units.js'

/** The counts of a replay's summary its closing line is made of (ReplayStats). */
export interface ClosingCounts {
  readonly framesSent: number
  readonly clients: number
  /** Frames not sent to a client by the 'drop' slow-client policy. */
  readonly framesDropped: number
  /** Clients closed with 1013 by the 'disconnect' slow-client policy. */
  readonly slowClientsClosed: number
}

/**
 * The line a replay logs when it closes: what it sent, to how many clients,
 * and what the slow-client policy cost, if anything
 * (`replay closed: 198191 frames sent to 2 clients; 121809 frames dropped for slow clients`).
 */
export function closingLine(s: ClosingCounts): string {
  const cost = [
    s.framesDropped > 0 ? `${plural(s.framesDropped, 'frame')} dropped for slow clients` : '',
    s.slowClientsClosed > 0 ? `${plural(s.slowClientsClosed, 'slow client')} closed (1013)` : '',
  ].filter(Boolean)
  return `replay closed: ${plural(s.framesSent, 'frame')} sent to ${plural(s.clients, 'client')}${cost.length > 0 ? `; ${cost.join(', ')}` : ''}`
}
