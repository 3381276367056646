/**
 * Yahoo Finance streamer `PricingData` as mdrec holds it in memory.
 *
 * Field names are the proto field names (snake_case), as in the recording's
 * columns and in `test/vectors`. A field that is absent on the wire is
 * `undefined`. 64-bit integers (sint64) are `bigint` so they never pass through
 * a lossy JS number; float fields hold the float32 value as a JS number;
 * double fields hold the float64.
 */
export interface PricingData {
  id?: string
  price?: number
  time?: bigint
  currency?: string
  exchange?: string
  quote_type?: number
  market_hours?: number
  change_percent?: number
  day_volume?: bigint
  day_high?: number
  day_low?: number
  change?: number
  short_name?: string
  expire_date?: bigint
  open_price?: number
  previous_close?: number
  strike_price?: number
  underlying_symbol?: string
  open_interest?: bigint
  options_type?: bigint
  mini_option?: bigint
  last_size?: bigint
  bid?: number
  bid_size?: bigint
  ask?: number
  ask_size?: bigint
  price_hint?: bigint
  vol_24hr?: bigint
  vol_all_currencies?: bigint
  from_currency?: string
  last_market?: string
  circulating_supply?: number
  market_cap?: number
  /** Wire bytes of fields this schema does not know, in wire order (re-emitted after the known fields on encode). */
  unknown_fields?: Uint8Array
}

/** v1: each text frame is the base64 of one PricingData. v2: `{"type":"pricing","message":"<base64>"}`. */
export type YahooEnvelope = 'v1' | 'v2'

export type YahooDecodeErrorCode =
  | 'BAD_BASE64'
  | 'BAD_PROTOBUF'
  | 'BAD_JSON'
  | 'NO_MESSAGE'
  | 'BAD_FRAME'

export interface YahooDecodeError {
  code: YahooDecodeErrorCode
  message: string
}

export type DecodeResult<T> = {ok: true; value: T} | {ok: false; error: YahooDecodeError}
