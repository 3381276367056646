// Small pieces of KIS's REST calls (approval key, access token, current
// price) shared by adapter.ts and rest.ts: a failed fetch described in one
// line, and a response body read up to a bound (error messages need no more).

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
