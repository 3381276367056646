/**
 * Upbit's authentication for the private WebSocket endpoint
 * (`wss://api.upbit.com/websocket/v1/private`), both sides:
 *
 * - {@link signUpbitToken}: the JWT a client sends as
 *   `Authorization: Bearer <token>` on the upgrade: header
 *   `{"alg":"HS512","typ":"JWT"}` (HS256 is accepted by Upbit too), payload
 *   `{"access_key":…, "nonce":<uuid v4>}`, signed with the secret key.
 *   A fresh nonce per token: Upbit refuses a nonce it has seen (`nonce_used`).
 * - {@link checkUpbitToken}: the emulator's check of that header. Without
 *   the secret it accepts any well-formed HS256/HS512 JWT carrying a
 *   non-empty `access_key` and `nonce` (the signature cannot be verified);
 *   given the secret it verifies the signature, given the access key it
 *   compares it. Refusals are Upbit's 401 error bodies
 *   (`{"error":{"name":"jwt_verification"|"invalid_access_key"|"nonce_used",…}}`,
 *   docs.upbit.com "API 주요 에러 코드 목록"); their messages never quote the
 *   token or a key.
 *
 * Hand-written on Node's crypto rather than a JWT library: an HS256/HS512
 * compact JWS is two base64url JSON parts and one HMAC, and the emulator
 * must classify malformed tokens the way Upbit names them (a library's
 * verifier throws its own error kinds, and needs the secret the emulator
 * usually does not have). No dependency (and no lockfile change) for ~60 lines.
 */
import {createHmac, randomUUID, timingSafeEqual} from 'node:crypto'

export type UpbitJwtAlg = 'HS256' | 'HS512'

const HMAC: Record<UpbitJwtAlg, string> = {HS256: 'sha256', HS512: 'sha512'}

const b64url = (x: string | Buffer) => Buffer.from(x).toString('base64url')

/**
 * A signed token for one connection: `header.payload.signature`
 * (base64url). `nonce` defaults to a random UUID v4.
 */
export function signUpbitToken(accessKey: string, secretKey: string, opts: {alg?: UpbitJwtAlg; nonce?: string} = {}): string {
  const alg = opts.alg ?? 'HS512'
  const input = `${b64url(JSON.stringify({alg, typ: 'JWT'}))}.${b64url(JSON.stringify({access_key: accessKey, nonce: opts.nonce ?? randomUUID()}))}`
  return `${input}.${createHmac(HMAC[alg], secretKey).update(input).digest('base64url')}`
}

export type UpbitAuthResult =
  | {ok: true; accessKey: string; nonce: string; alg: UpbitJwtAlg}
  | {ok: false; status: 401; name: 'jwt_verification' | 'invalid_access_key' | 'nonce_used'; message: string}

/** Upbit's 401 error body for a refusal. */
export function authErrorBody(r: Extract<UpbitAuthResult, {ok: false}>): string {
  return JSON.stringify({error: {name: r.name, message: r.message}})
}

const B64URL = /^[A-Za-z0-9_-]+$/

function part(text: string): Record<string, unknown> | null {
  if (!B64URL.test(text)) return null
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
  } catch {
    return null
  }
}

const refuse = (why: string): UpbitAuthResult => ({ok: false, status: 401, name: 'jwt_verification', message: `Failed to verify the JWT token: ${why}.`})

/**
 * Check an `Authorization` header value (see the module comment).
 * `secretKey`: verify the signature; `accessKey`: the only access key
 * accepted. Never throws.
 */
export function checkUpbitToken(header: string | undefined, opts: {secretKey?: string; accessKey?: string} = {}): UpbitAuthResult {
  if (header === undefined || header === '') return refuse('no Authorization header')
  const m = /^Bearer +(\S+)$/.exec(header.trim())
  if (!m) return refuse('the Authorization header is not "Bearer <token>"')
  const parts = m[1].split('.')
  if (parts.length !== 3) return refuse('the token is not a JWT (header.payload.signature)')
  const head = part(parts[0])
  const body = part(parts[1])
  if (head === null || body === null) return refuse('the token\'s header or payload is not base64url JSON')
  const alg = head.alg
  if (alg !== 'HS256' && alg !== 'HS512') return refuse('the algorithm must be HS256 or HS512')
  if (typeof body.access_key !== 'string' || body.access_key === '') return refuse('the payload has no access_key')
  if (typeof body.nonce !== 'string' || body.nonce === '') return refuse('the payload has no nonce')
  if (!B64URL.test(parts[2])) return refuse('the signature is not base64url')
  if (opts.accessKey !== undefined && body.access_key !== opts.accessKey) {
    return {ok: false, status: 401, name: 'invalid_access_key', message: 'Invalid access key.'}
  }
  if (opts.secretKey !== undefined) {
    const want = createHmac(HMAC[alg], opts.secretKey).update(`${parts[0]}.${parts[1]}`).digest()
    const got = Buffer.from(parts[2], 'base64url')
    if (got.length !== want.length || !timingSafeEqual(got, want)) return refuse('the signature does not match')
  }
  return {ok: true, accessKey: body.access_key, nonce: body.nonce, alg}
}
