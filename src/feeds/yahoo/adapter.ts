import type {ColumnDef, ColumnType, FeedCodec, Frame, FrameDecode, RowView} from '../types.js'
import {PRICING_FIELDS, decodeFrame, encodeFrame, envelopeForUrl, isCanonicalFrame, QuoteType} from './codec.js'
import type {PricingData, YahooEnvelope} from './types.js'

export const YAHOO_DEFAULT_URL = 'wss://streamer.finance.yahoo.com/?version=2'
export const YAHOO_URL_ENV = 'MDREC_YAHOO_URL'

const KIND_TO_COLUMN: Record<string, ColumnType> = {
  // Yahoo's strings are codes and names that repeat (exchange, currency, short_name…): dictionary-encoded.
  string: 'dict_utf8',
  float: 'float32',
  double: 'float64',
  int32: 'int32',
  sint64: 'int64',
}

/**
 * Yahoo's decoded columns: every PricingData field by its proto name with a
 * type that holds it exactly, except `id` (it is the row's `symbol`) and
 * `time` (it is the row's `exch_ts`, in ms), plus `unknown_fields`.
 */
export const YAHOO_COLUMNS: readonly ColumnDef[] = [
  ...PRICING_FIELDS.filter((f) => f.name !== 'id' && f.name !== 'time').map((f) => ({
    name: f.name,
    type: KIND_TO_COLUMN[f.kind],
    description: `PricingData.${f.name} (field ${f.number}, ${f.kind})`,
  })),
  {name: 'unknown_fields', type: 'binary', description: 'wire bytes of fields unknown to this schema, re-emitted on encode'},
]

const TD = new TextDecoder('utf-8', {fatal: false})
const TE = new TextEncoder()

/** PricingData back from a recorded row (symbol → id, exch_ts → time). */
export function rowToPricing(row: Pick<RowView, 'symbol' | 'exch_ts' | 'fields'>): PricingData {
  const data = {...row.fields} as PricingData
  data.id = row.symbol !== '' ? row.symbol : undefined
  data.time = row.exch_ts ?? undefined
  return data
}

export function yahooCodec(envelope: YahooEnvelope): FeedCodec & {envelope: YahooEnvelope} {
  return {
    feed: 'yahoo',
    envelope,
    exchTsUnit: 'ms',
    columns: YAHOO_COLUMNS,
    decode(frame: Frame): FrameDecode {
      const text = typeof frame.data === 'string' ? frame.data : TD.decode(frame.data)
      const r = decodeFrame(text, envelope)
      if (!r.ok) return {ok: false, code: r.error.code, message: r.error.message}
      const data = r.value.data
      const exact = !frame.binary && isCanonicalFrame(text, envelope, data)
      return {
        ok: true,
        rows: [
          {
            exch_ts: data.time ?? null,
            symbol: data.id ?? '',
            kind: data.quote_type === QuoteType.HEARTBEAT ? 'status' : 'tick',
            info: null,
            // id and time are columns of their own (symbol, exch_ts); the writer reads only feed columns from this
            fields: data as Record<string, unknown>,
            exact,
          },
        ],
      }
    },
    encode(row: RowView): Frame {
      if (row.raw) return {data: TD.decode(row.raw), binary: false}
      return {data: encodeFrame(rowToPricing(row), envelope), binary: false}
    },
  }
}

/** The codec for a recording made from `url` (the envelope follows its `version`). */
export function yahooCodecForUrl(url: string): ReturnType<typeof yahooCodec> {
  return yahooCodec(envelopeForUrl(url))
}

export function utf8(s: string): Uint8Array {
  return TE.encode(s)
}
