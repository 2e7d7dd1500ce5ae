import { DraftSession, TunnelSession } from '../src/tunnel';

/** A WebSocket the test drives: what the session sent, and deliveries in both directions. */
class FakeSocket {
  static last: FakeSocket;
  static readonly OPEN = 1;
  readyState = 0;
  sent: any[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  deliver(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

function session(readSource?: (path: string) => Promise<string | null>): TunnelSession {
  return new TunnelSession({ id: 's1', name: 'app', path: '/w/app.py', url: 'ws://x/dap', readSource });
}

beforeAll(() => {
  (globalThis as any).WebSocket = FakeSocket;
});

describe('TunnelSession', () => {
  it('matches responses to requests by request_seq, in any order', async () => {
    const tunnel = session();
    const socket = FakeSocket.last;
    socket.open();
    const a = tunnel.sendRequest('threads', {});
    const b = tunnel.sendRequest('stackTrace', { threadId: 1 });
    await flush();
    const [first, second] = socket.sent;
    expect([first.command, second.command]).toEqual(['threads', 'stackTrace']);
    expect(second.seq).toBeGreaterThan(first.seq);
    socket.deliver({ type: 'response', request_seq: second.seq, command: 'stackTrace', success: true,
      body: { stackFrames: [{ id: 7 }] } });
    socket.deliver({ type: 'response', request_seq: first.seq, command: 'threads', success: true,
      body: { threads: [] } });
    expect((await b).body.stackFrames).toEqual([{ id: 7 }]);
    expect((await a).body.threads).toEqual([]);
  });

  it('answers a failed request with an empty body of the right shape', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tunnel = session();
    FakeSocket.last.open();
    const reply = tunnel.sendRequest('variables', { variablesReference: 3 });
    await flush();
    const { seq } = FakeSocket.last.sent[0];
    FakeSocket.last.deliver({ type: 'response', request_seq: seq, command: 'variables',
      success: false, message: 'no such reference' });
    const answer = await reply;
    expect(answer.success).toBe(false);
    expect(answer.body.variables).toEqual([]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('no such reference'));
    warn.mockRestore();
  });

  it('resolves pending requests as failed when the tunnel closes, and says so', async () => {
    const tunnel = session();
    const socket = FakeSocket.last;
    socket.open();
    const closed: number[] = [];
    tunnel.closed.connect((_, { code }) => closed.push(code));
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const pending = tunnel.sendRequest('scopes', { frameId: 1 });
    await flush();
    socket.drop(1001, 'going away');
    const answer = await pending;
    expect(answer.success).toBe(false);
    expect(answer.body.scopes).toEqual([]);
    expect(closed).toEqual([1001]);
    expect(tunnel.isClosed).toBe(true);
    expect(tunnel.wasOpen).toBe(true);
    // Later requests fail at once, without writing anything.
    const count = socket.sent.length;
    expect((await tunnel.sendRequest('threads', {})).success).toBe(false);
    expect(socket.sent.length).toBe(count);
    warn.mockRestore();
  });

  it('fails the requests of a tunnel refused before it opened', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tunnel = session();
    const pending = tunnel.sendRequest('threads', {});
    FakeSocket.last.drop(1006);
    const answer = await pending;
    expect(answer.success).toBe(false);
    expect(answer.message).toContain('no longer connected');
    expect(tunnel.wasOpen).toBe(false);
    expect(FakeSocket.last.sent).toEqual([]);
    warn.mockRestore();
  });

  it('emits events, and joins with initialize, attach, configurationDone', async () => {
    const tunnel = session();
    const socket = FakeSocket.last;
    socket.open();
    const events: string[] = [];
    tunnel.eventMessage.connect((_, event) => events.push(event.event));
    const started = tunnel.start();
    const answer = async (command: string, body: unknown = {}) => {
      await flush();
      const request = socket.sent[socket.sent.length - 1];
      expect(request.command).toBe(command);
      socket.deliver({ type: 'response', request_seq: request.seq, command, success: true, body });
    };
    await answer('initialize', { exceptionBreakpointFilters: [{ filter: 'raised', label: 'Raised' }] });
    await answer('attach');
    await answer('configurationDone');
    await started;
    expect(tunnel.isStarted).toBe(true);
    expect(tunnel.exceptionBreakpointFilters?.map(f => f.filter)).toEqual(['raised']);
    expect(socket.sent[0].arguments).toMatchObject({ pathFormat: 'path', linesStartAt1: true });
    socket.deliver({ type: 'event', event: 'stopped', body: { threadId: 1 } });
    expect(events).toEqual(['stopped']);
    expect(tunnel.connection?.id).toBe('jds-s1');
  });

  it('reads a file through JupyterLab once per path, and asks the debugger otherwise', async () => {
    const reads: string[] = [];
    const tunnel = session(async path => {
      reads.push(path);
      return path.startsWith('/w/') ? `# ${path}` : null;
    });
    const socket = FakeSocket.last;
    socket.open();
    const source = { path: '/w/app.py' };
    expect((await tunnel.sendRequest('source', { source, sourceReference: 0 })).body.content).toBe(
      '# /w/app.py'
    );
    await tunnel.sendRequest('source', { source, sourceReference: 0 });
    expect(reads).toEqual(['/w/app.py']);
    expect(socket.sent).toEqual([]);
    // Outside what JupyterLab reads: the debugger's `source`.
    const outside = tunnel.sendRequest('source', { source: { path: '/usr/lib/x.c' }, sourceReference: 0 });
    await flush();
    await flush();
    expect(socket.sent.map(m => m.command)).toEqual(['source']);
    socket.deliver({ type: 'response', request_seq: socket.sent[0].seq, command: 'source',
      success: true, body: { content: 'int x;' } });
    expect((await outside).body.content).toBe('int x;');
  });

  it('leaves without ending the program when disposed', () => {
    const tunnel = session();
    const socket = FakeSocket.last;
    socket.open();
    tunnel.dispose();
    expect(socket.sent).toEqual([expect.objectContaining({ command: 'disconnect', arguments: {} })]);
    expect(tunnel.isDisposed).toBe(true);
  });
});

describe('DraftSession', () => {
  it('answers every request as failed with an empty body', async () => {
    const draft = new DraftSession();
    const reply = await draft.sendRequest('stackTrace', { threadId: 1 });
    expect(reply.success).toBe(false);
    expect(reply.body.stackFrames).toEqual([]);
    expect(draft.isStarted).toBe(false);
  });
});
