/**
 * The sessions of the server as the panel shows them: kept in step with the server-wide
 * events socket (`/api/debug/events`), plus which one is selected.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { isNewer, newestFirst } from './format';
import type { ISession, ServerEvent } from './types';

export class SessionsModel {
  /** Any session added or changed (the list is re-read through `sessions`). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  /** The selected session id changed. */
  get selectionChanged(): ISignal<this, string | null> {
    return this._selectionChanged;
  }

  /** Every session, newest first. */
  get sessions(): ISession[] {
    if (this._sorted === null) {
      this._sorted = [...this._sessions.values()].sort(newestFirst);
    }
    return this._sorted;
  }

  /** Whether the first list of the server has arrived. */
  get loaded(): boolean {
    return this._loaded;
  }

  /** Whether the live list is connected (false while the events socket reconnects). */
  get connected(): boolean {
    return this._connected;
  }
  set connected(value: boolean) {
    if (value !== this._connected) {
      this._connected = value;
      this._changed.emit();
    }
  }

  get selectedId(): string | null {
    return this._selectedId;
  }

  get selected(): ISession | null {
    return this._selectedId === null ? null : (this._sessions.get(this._selectedId) ?? null);
  }

  get(id: string): ISession | undefined {
    return this._sessions.get(id);
  }

  select(id: string | null): void {
    if (id !== this._selectedId) {
      this._selectedId = id;
      this._selectionChanged.emit(id);
    }
  }

  /** Apply one frame of the server-wide events socket. */
  apply(event: ServerEvent): void {
    if (event.type === 'sessions') {
      // The whole list (on every (re)connection): sessions the server forgot are dropped.
      const next = new Map<string, ISession>();
      for (const session of event.sessions) {
        const current = this._sessions.get(session.id);
        next.set(session.id, current && !isNewer(current, session) ? current : session);
      }
      this._sessions = next;
      this._loaded = true;
      this._sorted = null;
      this._changed.emit();
    } else if (event.type === 'session') {
      this.update(event.session);
    }
  }

  /** Take a session model from any source, unless an equally new one is already here. */
  update(session: ISession): void {
    if (!isNewer(this._sessions.get(session.id), session)) {
      return;
    }
    if (!this._sessions.has(session.id)) {
      this._sorted = null;
    } else if (this._sorted !== null) {
      this._sorted = this._sorted.map(s => (s.id === session.id ? session : s));
    }
    this._sessions.set(session.id, session);
    this._changed.emit();
  }

  private _sessions = new Map<string, ISession>();
  private _sorted: ISession[] | null = null;
  private _loaded = false;
  private _connected = true;
  private _selectedId: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _selectionChanged = new Signal<this, string | null>(this);
}
