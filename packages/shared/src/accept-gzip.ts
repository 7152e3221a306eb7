/**
 * Whether an Accept-Encoding header takes gzip: named (or `*`) with a q-value above 0, in any
 * case, as RFC 9110 reads codings. (Not @fastify/accept-negotiator: it took `GZIP` for none.)
 */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  const qualities = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [coding = '', ...parameters] = part.split(';').map((piece) => piece.trim());
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    qualities.set(coding, q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  return (qualities.get('gzip') ?? qualities.get('x-gzip') ?? qualities.get('*') ?? 0) > 0;
}
