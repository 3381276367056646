/**
 * Errors that mdrec reports to a user. Each has a stable `code` (like ws and
 * undici do) so programs can branch on it, and a message that names the bad
 * input and what to do. The CLI prints `message` alone (no stack) and exits
 * with `exitCode`.
 */
export type MdrecErrorCode =
  | 'E_USAGE' // bad flag value or argument
  | 'E_NOT_FOUND' // a path that does not exist
  | 'E_IS_DIRECTORY'
  | 'E_EMPTY_FILE'
  | 'E_NO_ROWS' // a selection (--from/--to/--symbol) holds no row where one is required (`slice` without --allow-empty)
  | 'E_NOT_ARROW' // not an Arrow IPC stream
  | 'E_NOT_RECORDING' // an Arrow file without mdrec metadata
  | 'E_FORMAT_VERSION' // written by a newer mdrec
  | 'E_TRUNCATED' // a file whose tail is cut (repairable with `mdrec verify --repair`)
  | 'E_CORRUPT' // a damaged message or batch (names the file and byte offset; repairable with `mdrec verify --repair`)
  | 'E_MIXED_INPUTS' // recordings that cannot be read as one: different feeds or columns, one part of a run given twice
  | 'E_EXISTS' // refusing to overwrite
  | 'E_IO' // could not read/write (permissions, disk full)
  | 'E_FEED' // the feed refused or misbehaved
  | 'E_INTERNAL'

export class MdrecError extends Error {
  readonly code: MdrecErrorCode
  readonly exitCode: number
  constructor(code: MdrecErrorCode, message: string, options?: {cause?: unknown; exitCode?: number}) {
    super(message, options?.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'MdrecError'
    this.code = code
    this.exitCode = options?.exitCode ?? (code === 'E_USAGE' ? 2 : 1)
  }
}

export function isMdrecError(e: unknown): e is MdrecError {
  return e instanceof MdrecError
}

/** Turn a Node fs error into an MdrecError naming the path and what to do. */
export function fsError(err: unknown, path: string, doing: string): MdrecError {
  const e = err as NodeJS.ErrnoException
  switch (e?.code) {
    case 'ENOENT':
      return new MdrecError('E_NOT_FOUND', `${path}: no such file or directory (${doing})`, {cause: err})
    case 'EISDIR':
      return new MdrecError('E_IS_DIRECTORY', `${path}: is a directory, expected a file (${doing})`, {cause: err})
    case 'EACCES':
    case 'EPERM':
      return new MdrecError('E_IO', `${path}: permission denied (${doing}); check the path's permissions`, {cause: err})
    case 'ENOSPC':
      return new MdrecError('E_IO', `${path}: no space left on device (${doing}); free space or write elsewhere`, {cause: err})
    case 'EROFS':
      return new MdrecError('E_IO', `${path}: read-only file system (${doing})`, {cause: err})
    case 'ENOTDIR':
      return new MdrecError('E_NOT_FOUND', `${path}: a parent of this path is not a directory (${doing})`, {cause: err})
    default:
      return new MdrecError('E_IO', `${path}: ${e?.message ?? String(err)} (${doing})`, {cause: err})
  }
}
