/**
 * What an S3 call's error says it was: the AWS SDK's name (`AccessDenied`, `NoSuchUpload`), Node's
 * code for a connection that failed (`ECONNREFUSED`), and S3's HTTP status, each absent when the
 * error does not carry it.
 */
export function s3ErrorOf(error: unknown): { name?: string; code?: string; status?: number } {
  const { name, code, $metadata } = (error ?? {}) as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  return { name, code, status: $metadata?.httpStatusCode };
}
