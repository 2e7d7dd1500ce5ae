/**
 * A WebSocket of JSON frames that reconnects after an unexpected close (the server
 * restarted, the network dropped), with a growing delay, until disposed.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

export type SocketStatus = 'connecting' | 'open' | 'closed';

export interface IJsonSocketOptions {
  /** The URL, asked again for every connection (a token may change). */
  url: () => string;
  /** First reconnection delay, doubled after each failure up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Whether to connect again after a close with this code; by default, after anything
   * but a normal close (1000) or a policy one (1008: a revoked credential). */
  shouldReconnect?: (code: number) => boolean;
}

export class JsonSocket<T> implements IDisposable {
  constructor(private readonly options: IJsonSocketOptions) {
    this._delay = options.minDelayMs ?? 500;
    this._connect();
  }

  /** Each parsed frame (frames that are not JSON objects are dropped). */
  get message(): ISignal<this, T> {
    return this._message;
  }
  get statusChanged(): ISignal<this, SocketStatus> {
    return this._statusChanged;
  }
  get status(): SocketStatus {
    return this._status;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Close for good (idempotent). */
  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._timer);
    if (this._socket) {
      this._socket.onclose = null;
      this._socket.close();
      this._socket = null;
    }
    this._setStatus('closed');
    Signal.clearData(this);
  }

  private _connect(): void {
    this._setStatus('connecting');
    const socket = new WebSocket(this.options.url());
    this._socket = socket;
    socket.onopen = () => {
      this._delay = this.options.minDelayMs ?? 500;
      this._setStatus('open');
    };
    socket.onmessage = (event: MessageEvent) => {
      let value: unknown;
      try {
        value = JSON.parse(String(event.data));
      } catch {
        return;
      }
      if (value && typeof value === 'object') {
        this._message.emit(value as T);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      this._socket = null;
      this._setStatus('closed');
      const again = this.options.shouldReconnect ?? defaultReconnect;
      if (this._disposed || !again(event.code)) {
        return;
      }
      this._timer = setTimeout(() => this._connect(), this._delay);
      this._delay = Math.min(this._delay * 2, this.options.maxDelayMs ?? 10_000);
    };
  }

  private _setStatus(status: SocketStatus): void {
    if (status !== this._status) {
      this._status = status;
      this._statusChanged.emit(status);
    }
  }

  private _socket: WebSocket | null = null;
  private _status: SocketStatus = 'closed';
  private _delay: number;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _disposed = false;
  private _message = new Signal<this, T>(this);
  private _statusChanged = new Signal<this, SocketStatus>(this);
}

function defaultReconnect(code: number): boolean {
  return code !== 1000 && code !== 1008;
}
