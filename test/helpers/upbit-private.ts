import {upbitCodec} from '../../src/feeds/upbit/codec.js'
import type {RecordingWriter, WriterOptions} from '../../src/store/writer.js'
import {createTestWriter} from './recording.js'

/** A writer for an Upbit private-endpoint recording (myOrder, myAsset; DEFAULT keys; subscriptions `*`) with test metadata. */
export function createUpbitPrivateWriter(path: string, writer: WriterOptions = {}): RecordingWriter {
  return createTestWriter(path, upbitCodec('DEFAULT'), writer, {
    feed: 'upbit',
    endpoint: 'wss://api.upbit.com/websocket/v1/private',
    subscriptions: ['*'],
    feedOptions: {format: 'DEFAULT', types: ['myOrder', 'myAsset']},
  })
}
