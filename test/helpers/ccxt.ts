/**
 * Keep a ccxt exchange offline: every REST call it makes is recorded in the
 * returned list and must go to `base` (the replay), else it throws naming the
 * URL. (Callers still load ccxt's proxy agent for plain ws:// URLs:
 * `await ex.loadHttpProxyAgent?.()`, as the docs' recipes show.)
 */
export function offline(ex: {fetch: unknown}, base: string): string[] {
  const fetched: string[] = []
  const fetchOrig = (ex.fetch as (...a: unknown[]) => Promise<unknown>).bind(ex)
  ex.fetch = async (url: string, ...rest: unknown[]) => {
    fetched.push(url)
    if (!url.startsWith(base)) throw new Error(`ccxt tried to reach ${url}`)
    return fetchOrig(url, ...rest)
  }
  return fetched
}
