import {createServer} from 'node:net'

/** A port on 127.0.0.1 where nothing listens (bound, then released): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as {port: number}).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}
