/**
 * What the panel shows of one session beyond its model: all of its output and its stop
 * history, read page by page from the REST routes, then followed live through the
 * session's events socket.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { DebugAPI } from './api';
import { DebugServerError } from './errors';
import { SessionsModel } from './sessions';
import { JsonSocket } from './socket';
import { FINAL_STATES, IOutputChunk, ISnapshot, SessionEvent } from './types';

/** Output chunks kept for the console; older ones are dropped from view (never from the
 * server: `…/output` keeps them within its retention). */
export const MAX_CHUNKS = 5000;
const PAGE = 1000;

export class SessionFeed implements IDisposable {
  constructor(
    readonly sessionId: string,
    private readonly api: DebugAPI,
    private readonly sessions: SessionsModel,
    private readonly onError: (error: DebugServerError) => void
  ) {
    const session = sessions.get(sessionId);
    if (!session || !FINAL_STATES.has(session.state)) {
      // The socket first, then the history: a chunk or stop that comes meanwhile is read
      // once (output by its cursor, snapshots by their numbers).
      this._socket = new JsonSocket<SessionEvent>({
        url: () => api.socketUrl(`sessions/${encodeURIComponent(sessionId)}/events`),
        // A stream cut off while the session runs (a slow client) is opened again.
        shouldReconnect: () => !FINAL_STATES.has(sessions.get(sessionId)?.state ?? '')
      });
      this._socket.message.connect(this._onEvent, this);
      this._socket.statusChanged.connect((_, status) => {
        if (status === 'open' && this._opened++ > 0) {
          // Reconnected: what came while it was closed is read from the routes.
          void this.drainOutput();
          void this._readSnapshots();
        }
      });
    }
    void this.drainOutput();
    void this._readSnapshots();
  }

  /** New chunks were appended (the argument), or `reset` when the view must be redrawn. */
  get output(): ISignal<this, IOutputChunk[]> {
    return this._output;
  }
  get snapshotsChanged(): ISignal<this, void> {
    return this._snapshotsChanged;
  }
  /** The chunks in view, oldest first. */
  get chunks(): readonly IOutputChunk[] {
    return this._chunks;
  }
  /** How many earlier chunks are not in view (dropped to stay within MAX_CHUNKS, or trimmed
   * by the server's retention). */
  get hidden(): number {
    return this._hidden;
  }
  get truncated(): boolean {
    return this._truncated;
  }
  /** The stop history, oldest first. */
  get snapshots(): ISnapshot[] {
    return [...this._snapshots.values()].sort((a, b) => a.seq - b.seq);
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._socket?.dispose();
    Signal.clearData(this);
  }

  /** Read every chunk after the cursor (one reader at a time; a call while one reads makes
   * it read once more when done). */
  async drainOutput(): Promise<void> {
    if (this._draining) {
      this._again = true;
      return;
    }
    this._draining = true;
    try {
      do {
        this._again = false;
        let page;
        do {
          page = await this.api.output(this.sessionId, this._cursor, PAGE);
          if (this._disposed) {
            return;
          }
          this._cursor = page.next;
          this._truncated = page.truncated;
          this._append(page.items);
        } while (page.items.length === PAGE);
      } while (this._again);
    } catch (error) {
      this._report(error);
    } finally {
      this._draining = false;
    }
  }

  private _append(items: IOutputChunk[]): void {
    if (!items.length) {
      return;
    }
    this._chunks.push(...items);
    const excess = this._chunks.length - MAX_CHUNKS;
    if (excess > 0) {
      this._chunks.splice(0, excess);
      this._hidden += excess;
    }
    this._output.emit(items);
  }

  private async _readSnapshots(): Promise<void> {
    let since = 0;
    try {
      for (;;) {
        const page = await this.api.snapshots(this.sessionId, since, 100);
        if (this._disposed) {
          return;
        }
        for (const snapshot of page.items) {
          this._keepSnapshot(snapshot);
        }
        if (page.items.length < 100) {
          break;
        }
        since = page.next;
      }
      this._snapshotsChanged.emit();
    } catch (error) {
      this._report(error);
    }
  }

  private _keepSnapshot(snapshot: ISnapshot): void {
    const known = this._snapshots.get(snapshot.seq);
    // A complete snapshot wins over an incomplete one of the same stop.
    if (!known || (!known.complete && snapshot.complete)) {
      this._snapshots.set(snapshot.seq, snapshot);
    }
  }

  private _onEvent(_: JsonSocket<SessionEvent>, event: SessionEvent): void {
    if (event.type === 'state') {
      this.sessions.update(event.session);
      if (FINAL_STATES.has(event.session.state)) {
        void this.drainOutput(); // the tail written as it ended
      }
    } else if (event.type === 'dap') {
      if (event.event.event === 'output') {
        // Frames carry no sequence number: they say there is more; the route is complete.
        void this.drainOutput();
      }
    } else if (event.type === 'snapshot') {
      this._keepSnapshot(event.snapshot);
      this._snapshotsChanged.emit();
    }
  }

  private _report(error: unknown): void {
    if (this._disposed) {
      return;
    }
    this.onError(
      error instanceof DebugServerError
        ? error
        : new DebugServerError(String((error as Error)?.message ?? error), 0)
    );
  }

  private _socket: JsonSocket<SessionEvent> | null = null;
  private _opened = 0;
  private _cursor = 0;
  private _chunks: IOutputChunk[] = [];
  private _hidden = 0;
  private _truncated = false;
  private _draining = false;
  private _again = false;
  private _snapshots = new Map<number, ISnapshot>();
  private _disposed = false;
  private _output = new Signal<this, IOutputChunk[]>(this);
  private _snapshotsChanged = new Signal<this, void>(this);
}
