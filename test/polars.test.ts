import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {openRecording} from '../src/store/reader.js'
import {expectPolarsAgrees} from './helpers/polars.js'

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))
/** Fixtures recorded before format version 2 (kept as they are: they test reading version 1); later ones are version 2. */
const V1 = ['generic-channels.arrow', 'kis-krx.arrow', 'upbit-krw.arrow', 'yahoo-crypto-v1.arrow', 'yahoo-us-equities.arrow']

describe('every fixture reads the same in nodejs-polars (an independent Arrow reader)', () => {
  for (const f of readdirSync(fixtures).filter((x) => x.endsWith('.arrow'))) {
    it(f, async () => {
      const path = join(fixtures, f)
      const file = await openRecording(path)
      expect(file.meta.formatVersion).toBe(V1.includes(f) ? 1 : 2)
      expect(await expectPolarsAgrees(path)).toBeGreaterThan(100)
    })
  }
})
