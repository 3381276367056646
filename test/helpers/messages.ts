import type {FramedMessage} from '../../src/store/ipc.js'

/** Where one IPC message of a recording sits: its kind, byte offset, metadata and body lengths, rows (no decoded metadata). */
export type MessageAt = Omit<FramedMessage, 'message'>

/** The position fields of a framed message (messageStream's `framed`). */
export function messageAt(f: FramedMessage): MessageAt {
  return {offset: f.offset, kind: f.kind, metaLength: f.metaLength, bodyLength: f.bodyLength, rows: f.rows}
}
