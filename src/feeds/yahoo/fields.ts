/**
 * The `PricingData` schema of the Yahoo Finance streamer (`proto/pricing.proto`):
 * the field table every other part of the codec is driven by, the two enums,
 * and the same schema as a protobufjs descriptor for tooling.
 *
 * The schema is embedded: `PRICING_FIELDS` below is the field table, and
 * `PRICING_DESCRIPTOR` (protobufjs JSON descriptor form, built from it) is what
 * `pricingSchema()` loads into a protobufjs `Root`. Embedding rather than
 * `protobuf.parse` of `proto/pricing.proto` at import time means no file I/O
 * and no path arithmetic at import (works from dist/, from src/ under vitest,
 * and inside a bundle). `proto/pricing.proto` is the human-facing copy; the
 * test suite parses it with protobufjs and fails if it and the embedded
 * schema ever differ.
 */
import protobuf from 'protobufjs'

import type {PricingData} from './types.js'

export type PricingFieldKind = 'string' | 'float' | 'double' | 'int32' | 'sint64'
export type PricingFieldName = Exclude<keyof PricingData, 'unknown_fields'>

export interface PricingField {
  readonly name: PricingFieldName
  readonly number: number
  readonly kind: PricingFieldKind
}

function f(name: PricingFieldName, number: number, kind: PricingFieldKind): PricingField {
  return Object.freeze({name, number, kind})
}

/** The 33 `PricingData` fields in field-number order (the recording's column layout follows it). */
export const PRICING_FIELDS: readonly PricingField[] = Object.freeze([
  f('id', 1, 'string'),
  f('price', 2, 'float'),
  f('time', 3, 'sint64'),
  f('currency', 4, 'string'),
  f('exchange', 5, 'string'),
  f('quote_type', 6, 'int32'),
  f('market_hours', 7, 'int32'),
  f('change_percent', 8, 'float'),
  f('day_volume', 9, 'sint64'),
  f('day_high', 10, 'float'),
  f('day_low', 11, 'float'),
  f('change', 12, 'float'),
  f('short_name', 13, 'string'),
  f('expire_date', 14, 'sint64'),
  f('open_price', 15, 'float'),
  f('previous_close', 16, 'float'),
  f('strike_price', 17, 'float'),
  f('underlying_symbol', 18, 'string'),
  f('open_interest', 19, 'sint64'),
  f('options_type', 20, 'sint64'),
  f('mini_option', 21, 'sint64'),
  f('last_size', 22, 'sint64'),
  f('bid', 23, 'float'),
  f('bid_size', 24, 'sint64'),
  f('ask', 25, 'float'),
  f('ask_size', 26, 'sint64'),
  f('price_hint', 27, 'sint64'),
  f('vol_24hr', 28, 'sint64'),
  f('vol_all_currencies', 29, 'sint64'),
  f('from_currency', 30, 'string'),
  f('last_market', 31, 'string'),
  f('circulating_supply', 32, 'double'),
  f('market_cap', 33, 'double'),
])

/** Known values of `quote_type` (the field itself is an int32 and may hold others). */
export const QuoteType = Object.freeze({
  NONE: 0,
  ALTSYMBOL: 5,
  HEARTBEAT: 7,
  EQUITY: 8,
  INDEX: 9,
  MUTUALFUND: 11,
  MONEYMARKET: 12,
  OPTION: 13,
  CURRENCY: 14,
  WARRANT: 15,
  BOND: 17,
  FUTURE: 18,
  ETF: 20,
  COMMODITY: 23,
  ECNQUOTE: 28,
  CRYPTOCURRENCY: 41,
  INDICATOR: 42,
  INDUSTRY: 1000,
} as const)
export type QuoteTypeName = keyof typeof QuoteType

/** Known values of `market_hours`. */
export const MarketHoursType = Object.freeze({
  PRE_MARKET: 0,
  REGULAR_MARKET: 1,
  POST_MARKET: 2,
  EXTENDED_HOURS_MARKET: 3,
} as const)
export type MarketHoursTypeName = keyof typeof MarketHoursType

function reverse<K extends string>(values: Readonly<Record<K, number>>): Map<number, K> {
  const m = new Map<number, K>()
  for (const k of Object.keys(values) as K[]) m.set(values[k], k)
  return m
}
const QUOTE_TYPE_NAMES = reverse(QuoteType)
const MARKET_HOURS_NAMES = reverse(MarketHoursType)

/** `quoteTypeName(8) === 'EQUITY'`; `undefined` for a value the enum does not list. */
export function quoteTypeName(n: number): QuoteTypeName | undefined {
  return QUOTE_TYPE_NAMES.get(n)
}

/** `marketHoursName(1) === 'REGULAR_MARKET'`; `undefined` for a value the enum does not list. */
export function marketHoursName(n: number): MarketHoursTypeName | undefined {
  return MARKET_HOURS_NAMES.get(n)
}

/** The schema of `proto/pricing.proto` as a protobufjs JSON descriptor (see the header comment). */
export const PRICING_DESCRIPTOR: protobuf.INamespace = {
  nested: {
    PricingData: {
      fields: Object.fromEntries(PRICING_FIELDS.map((fd) => [fd.name, {type: fd.kind, id: fd.number}])),
    },
    QuoteType: {values: {...QuoteType}},
    MarketHoursType: {values: {...MarketHoursType}},
  },
}

export interface PricingSchema {
  root: protobuf.Root
  PricingData: protobuf.Type
  QuoteType: protobuf.Enum
  MarketHoursType: protobuf.Enum
}

/**
 * The schema as protobufjs reflection objects, built on first use from the
 * embedded descriptor. For tooling (introspection, JSON conversion); the
 * per-frame codec does not go through it.
 */
export const pricingSchema: () => PricingSchema = (() => {
  let schema: PricingSchema | undefined
  return () => {
    if (schema === undefined) {
      const root = protobuf.Root.fromJSON(PRICING_DESCRIPTOR)
      schema = {
        root,
        PricingData: root.lookupType('PricingData'),
        QuoteType: root.lookupEnum('QuoteType'),
        MarketHoursType: root.lookupEnum('MarketHoursType'),
      }
    }
    return schema
  }
})()

// ---------------------------------------------------------------------------
// The table as the wire code uses it (codec.ts, row-encoder.ts)

/** Kind codes: PricingRowEncoder switches on small integers, not on strings. */
export const K_STRING = 0
export const K_FLOAT = 1
export const K_DOUBLE = 2
export const K_INT32 = 3
export const K_SINT64 = 4
export const KIND_CODE: Readonly<Record<PricingFieldKind, number>> = {string: K_STRING, float: K_FLOAT, double: K_DOUBLE, int32: K_INT32, sint64: K_SINT64}
const WIRE_TYPE: Readonly<Record<PricingFieldKind, number>> = {string: 2, float: 5, double: 1, int32: 0, sint64: 0}

/** The proto3 tag of a field: (field number << 3) | its wire type. */
export function fieldTag(fd: PricingField): number {
  return (fd.number << 3) | WIRE_TYPE[fd.kind]
}

/** Field number of `time`, which replay may shift. */
export const TIME_FIELD = 3
