/**
 * How a command-line input that is a glob is matched: files only, and the
 * paths come back as the pattern was given (relative stays relative). One
 * place for `expandInputs` (store/inputs.ts) and the check of the word after
 * a bare optional-value flag (cli/base.ts `namesInput`), so the two agree on
 * what names an input.
 */
import {isAbsolute} from 'node:path'

export function inputGlobOptions(pattern: string): {onlyFiles: true; expandDirectories: false; absolute: boolean} {
  return {onlyFiles: true, expandDirectories: false, absolute: isAbsolute(pattern)}
}
