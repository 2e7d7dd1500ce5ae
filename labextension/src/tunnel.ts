/**
 * A debug session as JupyterLab's debugger sees one (`IDebugger.ISession`), spoken over
 * the session's DAP tunnel (`/api/debug/sessions/{id}/dap`) instead of a kernel's
 * control channel. The server's mux answers what is not DAP (`debugInfo`, the kernel-only
 * requests); this class only frames, numbers and matches messages.
 */
import type { IDebugger } from '@jupyterlab/debugger';
import type { Session } from '@jupyterlab/services';
import { PromiseDelegate } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';
import type { DebugProtocol } from '@vscode/debugprotocol';

import { VariablePager } from './paging';

/** The kernel name JupyterLab's debugger config files our sessions under (it refuses to
 * hash or name cells without one; we have no cells, but it asks). */
export const KERNEL_NAME = 'jupyter-debug-server';

/** A request that got no answer in this long is answered as failed (the server bounds
 * its own requests to the debugger well below it). */
export const TUNNEL_TIMEOUT_MS = 60_000;

/** What the debugger service reads from a response's body without checking `success`:
 * a failed request gives these (and a console warning), not a TypeError in the sidebar. */
const EMPTY_BODIES: Record<string, unknown> = {
  stackTrace: { stackFrames: [], totalFrames: 0 },
  scopes: { scopes: [] },
  variables: { variables: [] },
  setBreakpoints: { breakpoints: [] },
  modules: { modules: [] },
  source: { content: '' },
  inspectVariables: { variables: [] },
  debugInfo: {
    isStarted: false,
    hashMethod: 'Murmur2',
    hashSeed: 0,
    tmpFilePrefix: '/jupyter-debug-server/none/',
    tmpFileSuffix: '.py',
    breakpoints: [],
    stoppedThreads: [],
    richRendering: false,
    exceptionPaths: [],
    copyToGlobals: false
  }
};

type AnyResponse = DebugProtocol.Response & { body?: any };

/** A response to `command`, made here. */
function answer(command: string, success: boolean, body: unknown, message?: string): AnyResponse {
  const out: AnyResponse = { seq: 0, type: 'response', request_seq: 0, command, success, body };
  if (message !== undefined) {
    out.message = message;
  }
  return out;
}

/** `command` could not be answered: why. */
function failure(command: string, message: string): AnyResponse {
  return answer(command, false, EMPTY_BODIES[command], message);
}

export namespace TunnelSession {
  export interface IOptions {
    /** The debug session's id and display name. */
    id: string;
    name: string;
    /** The program, shown as the sidebar's title and used as the connection's path. */
    path: string;
    /** The tunnel's ws(s):// URL, with the token. */
    url: string;
    /** `source` requests for files JupyterLab can read answer from here (null: ask the
     * debugger). */
    readSource?: (path: string) => Promise<string | null>;
    /** Whether anyone looks at the variables: while not, `scopes` answers none without
     * asking the debugger (so a stop costs the frames only), and nothing asks for
     * variables. Whoever shows them asks again (see SessionDebugger.inspectAgain). */
    inspecting?: () => boolean;
  }
}

export class TunnelSession implements IDebugger.ISession {
  constructor(private readonly options: TunnelSession.IOptions) {
    // EditorHandler keeps `connection.id` and ignores gutter clicks once it differs
    // (`null` is not `''`): a stable stand-in, one per debug session.
    this.connection = {
      id: `jds-${options.id}`,
      name: options.name,
      path: options.path,
      kernel: { id: `jds-${options.id}`, name: KERNEL_NAME }
    } as unknown as Session.ISessionConnection;
    this._socket = new WebSocket(options.url);
    this._socket.onopen = () => {
      this._wasOpen = true;
      this._opened.resolve();
    };
    this._socket.onmessage = event => this._receive(String(event.data));
    this._socket.onclose = event => this._closedBy(event.code, event.reason);
  }

  connection: Session.ISessionConnection | null;
  exceptionPaths: string[] = [];
  exceptionBreakpointFilters: DebugProtocol.ExceptionBreakpointsFilter[] | undefined = [];
  currentExceptionFilters: string[] = [];

  /** The debug session's id. */
  get id(): string {
    return this.options.id;
  }
  get capabilities(): DebugProtocol.Capabilities | undefined {
    return this._capabilities;
  }
  get isStarted(): boolean {
    return this._started;
  }
  /** Whether the tunnel ever opened (a refused one never did). */
  get wasOpen(): boolean {
    return this._wasOpen;
  }
  /** Whether the tunnel is gone (the session ended, or the connection dropped). */
  get isClosed(): boolean {
    return this._closed;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }
  get disposed(): ISignal<this, void> {
    return this._disposedSignal;
  }
  get eventMessage(): ISignal<IDebugger.ISession, IDebugger.ISession.Event> {
    return this._eventMessage;
  }
  /** The tunnel closed (with the server's close code and reason). */
  get closed(): ISignal<this, { code: number; reason: string }> {
    return this._closedSignal;
  }

  isPausingOnException(filter?: string): boolean {
    return filter
      ? this.currentExceptionFilters.includes(filter)
      : this.currentExceptionFilters.length > 0;
  }

  /** Join the running session: initialize, attach (answered by the server), then
   * configurationDone, after which the server replays where the program is. */
  async start(): Promise<void> {
    const reply = await this.sendRequest('initialize', {
      clientID: 'jupyterlab',
      clientName: 'JupyterLab',
      adapterID: KERNEL_NAME,
      pathFormat: 'path',
      linesStartAt1: true,
      columnsStartAt1: true,
      supportsVariableType: true,
      supportsVariablePaging: true,
      locale: globalThis.document?.documentElement.lang
    });
    if (!reply.success) {
      throw new Error(`Could not join debug session ${this.id}: ${reply.message}`);
    }
    this._capabilities = reply.body;
    this.exceptionBreakpointFilters = reply.body?.exceptionBreakpointFilters ?? [];
    this._started = true;
    await this.sendRequest('attach', {} as DebugProtocol.AttachRequestArguments);
    await this.sendRequest('configurationDone', {});
  }

  /** Leave the session (it goes on running for its other clients). */
  async stop(): Promise<void> {
    this._started = false;
    if (!this._closed) {
      await this.sendRequest('disconnect', { restart: false, terminateDebuggee: false });
    }
  }

  restoreState(): Promise<IDebugger.ISession.Response['debugInfo']> {
    return this.sendRequest('debugInfo', {});
  }

  /** Send one request; always resolves, with a failed response when the tunnel could not
   * answer (the debugger service reads bodies without looking at `success`). */
  async sendRequest<K extends keyof IDebugger.ISession.Request>(
    command: K,
    args: IDebugger.ISession.Request[K]
  ): Promise<IDebugger.ISession.Response[K]> {
    const local = await this._answerLocally(command, args);
    if (local) {
      return local as IDebugger.ISession.Response[K];
    }
    if (command === 'variables') {
      return (await this._variables(args as DebugProtocol.VariablesArguments)) as
        IDebugger.ISession.Response[K];
    }
    const response = await this._send(command, args);
    if (command === 'evaluate' && response.success && response.body) {
      this._pager.learn([{ name: '', value: '', ...response.body }]);
    }
    return response as IDebugger.ISession.Response[K];
  }

  /** `variables`, with a large container's items in groups (paging.ts). */
  private async _variables(args: DebugProtocol.VariablesArguments): Promise<AnyResponse> {
    const asked = args.start !== undefined || args.count !== undefined || args.filter;
    const plan = asked ? { kind: 'forward' as const } : this._pager.plan(args.variablesReference);
    let response: AnyResponse;
    if (plan.kind === 'groups') {
      let named: unknown[] = [];
      if (plan.named !== null) {
        const reply = await this._send('variables', {
          variablesReference: plan.named,
          filter: 'named'
        });
        named = reply.success ? (reply.body?.variables ?? []) : [];
      }
      response = answer('variables', true, { variables: [...plan.groups, ...named] });
    } else if (plan.kind === 'items') {
      response = await this._send('variables', {
        variablesReference: plan.parent,
        start: plan.start,
        count: plan.count
      });
    } else {
      response = await this._send('variables', args);
    }
    this._pager.learn(response.body?.variables);
    return response;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._started = false;
    const socket = this._socket;
    socket.onclose = null;
    socket.onmessage = null;
    if (socket.readyState === WebSocket.OPEN) {
      // A plain disconnect: leave, never end the program.
      socket.send(
        JSON.stringify({ seq: this._seq++, type: 'request', command: 'disconnect', arguments: {} })
      );
    }
    socket.close(1000);
    this._closedBy(1000, 'disposed');
    this._disposedSignal.emit();
    Signal.clearData(this);
  }

  private async _answerLocally(command: string, args: any): Promise<AnyResponse | null> {
    if (command === 'scopes' && this.options.inspecting && !this.options.inspecting()) {
      return answer(command, true, { scopes: [] });
    }
    if (command !== 'source' || !this.options.readSource) {
      return null;
    }
    const path: string | undefined = args?.source?.path;
    if (!path || args?.source?.sourceReference) {
      return null;
    }
    // (Every new frame asks for its file: one read per file and session.)
    let content = this._sources.get(path);
    if (content === undefined) {
      content = this.options.readSource(path).catch(() => null);
      this._sources.set(path, content);
    }
    const text = await content;
    return text === null ? null : answer(command, true, { content: text });
  }

  private async _send(command: string, args: unknown): Promise<AnyResponse> {
    if (this._closed) {
      return failure(command, `debug session ${this.id} is no longer connected`);
    }
    await this._opened.promise;
    if (this._closed) {
      return failure(command, `debug session ${this.id} is no longer connected`);
    }
    const seq = this._seq++;
    const answer = new PromiseDelegate<AnyResponse>();
    const timer = setTimeout(() => {
      this._pending.delete(seq);
      answer.resolve(
        failure(command, `${command} got no answer within ${TUNNEL_TIMEOUT_MS / 1000} s`)
      );
    }, TUNNEL_TIMEOUT_MS);
    this._pending.set(seq, { command, answer, timer });
    this._socket.send(JSON.stringify({ seq, type: 'request', command, arguments: args }));
    const response = await answer.promise;
    if (!response.success) {
      console.warn(`debug session ${this.id}: ${command} failed: ${response.message}`);
      return { ...response, body: response.body ?? EMPTY_BODIES[command] };
    }
    return response;
  }

  private _receive(text: string): void {
    let message: any;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message?.type === 'response') {
      const pending = this._pending.get(message.request_seq);
      if (pending) {
        this._pending.delete(message.request_seq);
        clearTimeout(pending.timer);
        pending.answer.resolve(message);
      }
    } else if (message?.type === 'event') {
      if (message.event === 'stopped' || message.event === 'continued') {
        this._pager.forget(); // (a stop's references die with it)
      }
      this._eventMessage.emit(message as IDebugger.ISession.Event);
    }
  }

  private _closedBy(code: number, reason: string): void {
    if (this._closed) {
      return;
    }
    this._closed = true;
    this._started = false;
    this._opened.resolve();
    for (const [seq, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.answer.resolve(
        failure(pending.command, `the tunnel of debug session ${this.id} closed`)
      );
      this._pending.delete(seq);
    }
    this._closedSignal.emit({ code, reason });
  }

  private _socket: WebSocket;
  private _opened = new PromiseDelegate<void>();
  private _seq = 1;
  private _pending = new Map<
    number,
    { command: string; answer: PromiseDelegate<AnyResponse>; timer: ReturnType<typeof setTimeout> }
  >();
  private _sources = new Map<string, Promise<string | null>>();
  private _pager = new VariablePager();
  private _capabilities: DebugProtocol.Capabilities | undefined;
  private _started = false;
  private _wasOpen = false;
  private _closed = false;
  private _disposed = false;
  private _disposedSignal = new Signal<this, void>(this);
  private _closedSignal = new Signal<this, { code: number; reason: string }>(this);
  private _eventMessage = new Signal<IDebugger.ISession, IDebugger.ISession.Event>(this);
}

/** The session JupyterLab's debugger holds when no debug session is selected: not
 * started, so the editors' gutters keep breakpoints for the next launch. */
export class DraftSession implements IDebugger.ISession {
  connection = {
    id: 'jds-draft',
    name: 'No debug session',
    path: '',
    kernel: { id: 'jds-draft', name: KERNEL_NAME }
  } as unknown as Session.ISessionConnection;
  capabilities = undefined;
  isStarted = false;
  exceptionPaths: string[] = [];
  exceptionBreakpointFilters: DebugProtocol.ExceptionBreakpointsFilter[] = [];
  currentExceptionFilters: string[] = [];

  get isDisposed(): boolean {
    return this._disposed;
  }
  get disposed(): ISignal<this, void> {
    return this._disposedSignal;
  }
  get eventMessage(): ISignal<IDebugger.ISession, IDebugger.ISession.Event> {
    return this._eventMessage;
  }
  isPausingOnException(): boolean {
    return false;
  }
  async start(): Promise<void> {
    // Nothing to join.
  }
  async stop(): Promise<void> {
    // Nothing to leave.
  }
  restoreState(): Promise<IDebugger.ISession.Response['debugInfo']> {
    return this.sendRequest('debugInfo', {});
  }
  async sendRequest<K extends keyof IDebugger.ISession.Request>(
    command: K,
    _args: IDebugger.ISession.Request[K]
  ): Promise<IDebugger.ISession.Response[K]> {
    return failure(command, 'no debug session is selected') as IDebugger.ISession.Response[K];
  }
  dispose(): void {
    if (!this._disposed) {
      this._disposed = true;
      this._disposedSignal.emit();
      Signal.clearData(this);
    }
  }
  private _disposed = false;
  private _disposedSignal = new Signal<this, void>(this);
  private _eventMessage = new Signal<IDebugger.ISession, IDebugger.ISession.Event>(this);
}
