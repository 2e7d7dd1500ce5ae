/** Errors of the debug server's routes as sentences for the user (no JupyterLab imports). */

/**
 * A refusal of the server (4xx/5xx with its `{message, reason}`), a server that cannot be
 * reached, or a request that took too long: `message` is a sentence for the user.
 */
export class DebugServerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | null = null
  ) {
    super(message);
    this.name = 'DebugServerError';
  }
}

/** The sentence of an error answer: the server's `message`, or the HTTP status. */
export async function errorFromResponse(
  response: Response,
  what: string
): Promise<DebugServerError> {
  let message = `${what} failed: HTTP ${response.status} ${response.statusText}`.trim();
  let reason: string | null = null;
  try {
    const body = await response.json();
    if (body && typeof body.message === 'string' && body.message) {
      message = body.message;
    }
    if (body && typeof body.reason === 'string') {
      reason = body.reason;
    }
  } catch {
    // (not JSON: a proxy's page; the status says enough)
  }
  return new DebugServerError(message, response.status, reason);
}

/** Encode query arguments (undefined values are left out). */
export function query(args: Record<string, string | number | undefined>): string {
  const parts = Object.entries(args)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

