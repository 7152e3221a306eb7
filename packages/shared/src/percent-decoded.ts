/**
 * `text` with its %-escapes decoded (and nothing else: a `+` stays a `+`), or as it is when it
 * holds one that is not an escape. One rule for the query key the ingest accepts (`write%4Bey`)
 * and the names its log redacts: what authenticates must be what is hidden.
 */
export function percentDecoded(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
