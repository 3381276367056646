import {upbitCodec} from '../../src/feeds/upbit/codec.js'
import {RecordingWriter, type WriterOptions} from '../../src/store/writer.js'

/** A writer for an Upbit private-endpoint recording (myOrder, myAsset; DEFAULT keys; subscriptions `*`) with test metadata. */
export function createUpbitPrivateWriter(path: string, writer: WriterOptions = {}): RecordingWriter {
  const codec = upbitCodec('DEFAULT')
  return RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'upbit',
        endpoint: 'wss://api.upbit.com/websocket/v1/private',
        subscriptions: ['*'],
        feedOptions: {format: 'DEFAULT', types: ['myOrder', 'myAsset']},
        toolVersion: 'test',
        startTime: '2025-11-24T10:40:00.000000000Z',
        rawMode: 'auto',
      },
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0, ...writer},
  )
}
