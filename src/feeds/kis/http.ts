// Small pieces of KIS's REST calls (approval key, access token, current
// price) shared by adapter.ts and rest.ts: a failed fetch described in one
// line, a response body read up to a bound (error messages need no more),
// and the credential POST both endpoints share.

import {MdrecError} from '../../errors.js'

/** `text` on one line (control characters as spaces), cut at `max` characters. */
export function oneLine(text: string, max = 200): string {
  const t = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return t.length > max ? `${t.slice(0, max)}…` : t
}

/** Why a fetch failed, as a user reads it: the timeout, or the socket's error code. */
export function fetchFailure(e: unknown, timeoutMs: number): string {
  const err = e as Error & {cause?: {code?: string; message?: string}}
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e)
}

/** At most `limit` bytes of a response body as text (the rest is not read); '' when it cannot be read. */
export async function readBounded(res: Response, limit: number): Promise<string> {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < limit) {
      const {done, value} = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // a body cut off mid-way: what arrived is enough for an error message
  } finally {
    reader.cancel().catch(() => {})
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8')
}

/**
 * `POST url` with `body` as JSON (the credential requests of KIS's approval
 * and token endpoints); returns the response and at most 64 KiB of its body.
 * A request that gets no answer throws E_FEED naming `what` and the URL as
 * `shown` (credentials removed), with `redact` applied to the cause.
 */
export async function postJson(
  url: string,
  shown: string,
  what: string,
  body: Record<string, string>,
  redact: (text: string) => string,
  timeoutMs: number,
): Promise<{res: Response; text: string}> {
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {'content-type': 'application/json; charset=utf-8'},
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (error) {
    throw new MdrecError('E_FEED', `cannot reach the KIS ${what} endpoint ${shown}: ${oneLine(redact(fetchFailure(error, timeoutMs)))}; check the network, or set MDREC_KIS_REST_URL`)
  }
  return {res, text: await readBounded(res, 64 * 1024)}
}
