/**
 * The private endpoint's messages, myOrder and myAsset: their DEFAULT and
 * SIMPLE keys (docs.upbit.com/kr/reference/websocket-myorder and
 * websocket-myasset, "구독 데이터 명세", 2024-05 … 2025-07 revisions).
 *
 * Recording: a private message is one row of kind `status` whose `type`,
 * `code`, `timestamp` and `stream_type` fill the common columns and every
 * other member is kept verbatim in `unknown_fields` (its order in `layout`),
 * so it re-encodes byte for byte without columns of its own (the quotation
 * schema is unchanged). Replay to a client of the other spelling renames
 * each kept member's key — and `assets`' inner keys — with {@link respell},
 * leaving values and their printed form as recorded.
 */
import {parseJson, type JNode} from '../json.js'

/** myOrder, in Upbit's order: DEFAULT → SIMPLE. */
export const MY_ORDER_KEYS: Readonly<Record<string, string>> = {
  type: 'ty',
  code: 'cd',
  uuid: 'uid',
  ask_bid: 'ab',
  order_type: 'ot',
  state: 's',
  trade_uuid: 'tuid',
  price: 'p',
  avg_price: 'ap',
  volume: 'v',
  remaining_volume: 'rv',
  executed_volume: 'ev',
  trades_count: 'tc',
  reserved_fee: 'rsf',
  remaining_fee: 'rmf',
  paid_fee: 'pf',
  locked: 'l',
  executed_funds: 'ef',
  time_in_force: 'tif',
  trade_fee: 'tf',
  is_maker: 'im',
  identifier: 'id',
  smp_type: 'smpt',
  prevented_volume: 'pv',
  prevented_locked: 'pl',
  trade_timestamp: 'ttms',
  order_timestamp: 'otms',
  timestamp: 'tms',
  stream_type: 'st',
}

/** myAsset: DEFAULT → SIMPLE. */
export const MY_ASSET_KEYS: Readonly<Record<string, string>> = {
  type: 'ty',
  asset_uuid: 'astuid',
  assets: 'ast',
  asset_timestamp: 'asttms',
  timestamp: 'tms',
  stream_type: 'st',
}

/** One entry of myAsset's `assets`: DEFAULT → SIMPLE. */
export const ASSET_KEYS: Readonly<Record<string, string>> = {currency: 'cu', balance: 'b', locked: 'l'}

const invert = (m: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k]))
const MAPS: Record<string, [Record<string, string>, Record<string, string>]> = {
  myOrder: [invert(MY_ORDER_KEYS), {...MY_ORDER_KEYS}],
  myAsset: [invert(MY_ASSET_KEYS), {...MY_ASSET_KEYS}],
}
const ASSET_MAPS: [Record<string, string>, Record<string, string>] = [invert(ASSET_KEYS), {...ASSET_KEYS}]

/** The node as JSON text, numbers as they were printed, object keys renamed by `keys`. */
function write(n: JNode, keys?: Record<string, string>): string {
  switch (n.t) {
    case 'n':
      return n.text
    case 's':
    case 'b':
    case 'z':
      return JSON.stringify(n.v)
    case 'a':
      return `[${n.items.map((x) => write(x, keys)).join(',')}]`
    case 'o':
      return `{${n.members.map((m) => `${JSON.stringify(keys?.[m.key] ?? m.key)}:${write(m.value, keys)}`).join(',')}}`
  }
}

const KEY = /^"((?:[^"\\]|\\.)*)":/

/**
 * A kept member (`"key":value`, as recorded) of a `type` message with its
 * key spelled `toSimple ? SIMPLE : DEFAULT`; the value's text is unchanged
 * except `assets`' inner keys. A member that is not a known key of the type
 * comes back as it was.
 */
export function respell(member: string, type: unknown, toSimple: boolean): string {
  const maps = typeof type === 'string' ? MAPS[type] : undefined
  const m = KEY.exec(member)
  if (!maps || !m) return member
  const key = m[1]
  const map = maps[toSimple ? 1 : 0]
  const to = map[key]
  if (to === undefined) return member
  const value = member.slice(m[0].length)
  if (type === 'myAsset' && (key === 'assets' || key === 'ast')) {
    try {
      return `${JSON.stringify(to)}:${write(parseJson(value).value, ASSET_MAPS[toSimple ? 1 : 0])}`
    } catch {
      // not JSON after all: as recorded, key renamed
    }
  }
  return `${JSON.stringify(to)}:${value}`
}
