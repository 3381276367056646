// Small pieces every bench script shares.

/** The value after `--<name>` on the command line, else `dflt`. */
export const opt = (name, dflt) => {
  const args = process.argv.slice(2)
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}

/** A progress line on stderr (stdout carries the JSON result lines). */
export const log = (s) => process.stderr.write(`${s}\n`)

/** The median of `a`. */
export const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
