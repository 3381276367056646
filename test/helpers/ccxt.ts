/**
 * Keep a ccxt exchange offline: every REST call it makes is recorded in the
 * returned list and must go to `base` (the replay), else it throws naming the
 * URL; loads ccxt's proxy agent, which some versions need for plain ws:// URLs.
 */
export async function offline(ex: {fetch: unknown}, base: string): Promise<string[]> {
  const fetched: string[] = []
  const fetchOrig = (ex.fetch as (...a: unknown[]) => Promise<unknown>).bind(ex)
  ex.fetch = async (url: string, ...rest: unknown[]) => {
    fetched.push(url)
    if (!url.startsWith(base)) throw new Error(`ccxt tried to reach ${url}`)
    return fetchOrig(url, ...rest)
  }
  await (ex as unknown as {loadHttpProxyAgent?: () => Promise<unknown>}).loadHttpProxyAgent?.()
  return fetched
}
