/**
 * The REST client of the debug server: one request helper, errors as the server's
 * sentences, and a bound on every request so that nothing in the UI waits forever.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { DebugServerError, errorFromResponse, query } from './errors';
import type {
  IBreakpointDetail,
  IBreakpointsOfSource,
  IDebugger,
  IIssuedToken,
  ILaunchSpec,
  IOutputPage,
  IProcess,
  ISession,
  ISnapshotPage,
  IToken
} from './types';

/** Steps and continues wait for the next stop on the server (its `step_timeout`, 30 s by
 * default), so a request may take that long; nothing takes longer than this. */
export const REQUEST_TIMEOUT_MS = 60_000;

export { DebugServerError, errorFromResponse, query };

/** The debug server's REST routes, under the Jupyter server's base URL. */
export class DebugAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
    readonly timeoutMs = REQUEST_TIMEOUT_MS
  ) {}

  /** Send one request; resolve with its JSON body, reject with DebugServerError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, 'api/debug', path);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    // `no-cache`, not JupyterLab's default `no-store`: with `no-store` ServerConnection
    // appends a bare timestamp to the query, an argument our routes refuse as unknown.
    const init: RequestInit = { method, signal: controller.signal, cache: 'no-cache' };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    const what = `${method} ${path.split('?')[0]}`;
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      if (controller.signal.aborted) {
        throw new DebugServerError(
          `${what} got no answer within ${Math.round(this.timeoutMs / 1000)} s; the server ` +
            'may be busy or unreachable',
          0,
          'timeout'
        );
      }
      throw new DebugServerError(
        `${what} could not reach the Jupyter server: ${(error as Error).message}`,
        0,
        'network'
      );
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      throw await errorFromResponse(response, what);
    }
    // (204 and other empty answers: a revocation has no body.)
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  debuggers(refresh = false): Promise<IDebugger[]> {
    return this.request('GET', `debuggers${refresh ? '?refresh=1' : ''}`);
  }
  sessions(): Promise<ISession[]> {
    return this.request('GET', 'sessions');
  }
  session(id: string): Promise<ISession> {
    return this.request('GET', `sessions/${encodeURIComponent(id)}`);
  }
  launch(spec: ILaunchSpec): Promise<ISession> {
    return this.request('POST', 'sessions', spec);
  }
  terminate(id: string): Promise<ISession> {
    return this.request('DELETE', `sessions/${encodeURIComponent(id)}`);
  }
  continue(id: string): Promise<ISession> {
    return this.request('POST', `sessions/${encodeURIComponent(id)}/continue`, {});
  }
  pause(id: string): Promise<ISession> {
    return this.request('POST', `sessions/${encodeURIComponent(id)}/pause`, {});
  }
  step(id: string, kind: 'over' | 'in' | 'out'): Promise<ISession> {
    return this.request('POST', `sessions/${encodeURIComponent(id)}/step`, { kind });
  }
  output(id: string, since: number, limit = 1000): Promise<IOutputPage> {
    return this.request('GET', `sessions/${encodeURIComponent(id)}/output${query({ since, limit })}`);
  }
  snapshots(id: string, since: number, limit = 100): Promise<ISnapshotPage> {
    return this.request(
      'GET',
      `sessions/${encodeURIComponent(id)}/snapshots${query({ since, limit })}`
    );
  }
  tokens(id: string): Promise<IToken[]> {
    return this.request('GET', `sessions/${encodeURIComponent(id)}/tokens`);
  }
  issueToken(id: string, scope: 'control' | 'observe', ttl?: number): Promise<IIssuedToken> {
    return this.request('POST', `sessions/${encodeURIComponent(id)}/tokens`, {
      scope,
      ...(ttl === undefined ? {} : { ttl })
    });
  }
  revokeToken(id: string, tokenId: string): Promise<void> {
    return this.request(
      'DELETE',
      `sessions/${encodeURIComponent(id)}/tokens/${encodeURIComponent(tokenId)}`
    );
  }
  /** Replace the session's own breakpoints of one file (absolute, or under the root). */
  setBreakpoints(
    id: string,
    path: string,
    breakpoints: (IBreakpointDetail & { line: number })[]
  ): Promise<IBreakpointsOfSource> {
    return this.request('PUT', `sessions/${encodeURIComponent(id)}/breakpoints`, {
      path,
      breakpoints
    });
  }
  watches(id: string): Promise<{ watches: string[] }> {
    return this.request('GET', `sessions/${encodeURIComponent(id)}/watches`);
  }
  setWatches(id: string, watches: string[]): Promise<{ watches: string[] }> {
    return this.request('PUT', `sessions/${encodeURIComponent(id)}/watches`, { watches });
  }
  processes(q?: string): Promise<IProcess[]> {
    return this.request('GET', `processes${query({ q: q || undefined })}`);
  }

  /** The ws(s):// URL of a WebSocket route, with the Jupyter token as `?token=` (browsers
   * cannot set headers on a WebSocket; without a token the login cookie is used). */
  socketUrl(path: string, args: Record<string, string | undefined> = {}): string {
    const url = URLExt.join(this.settings.wsUrl, 'api/debug', path);
    const token = this.settings.token || undefined;
    return url + query({ ...args, token });
  }
}
