import {readFileSync} from 'node:fs'

/** mdrec's version, from package.json (read once; the package ships it). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version: string}).version
  } catch {
    return '0.0.0'
  }
})()
