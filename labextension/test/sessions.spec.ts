import { SessionsModel } from '../src/sessions';
import type { ISession } from '../src/types';

export function session(id: string, patch: Partial<ISession> = {}): ISession {
  return {
    id,
    name: 'counter.py',
    debugger: 'debugpy',
    request: 'launch',
    state: 'stopped',
    pid: 42,
    exit_code: null,
    created: '2026-12-05T10:00:00.000000Z',
    updated: '2026-12-05T10:00:01.000000Z',
    owner: 'me',
    stopped: {
      thread_id: 1,
      reason: 'breakpoint',
      description: null,
      text: null,
      path: '/root/counter.py',
      line: 5,
      name: '<module>',
      frame_id: 3
    },
    error: null,
    clients: 0,
    spec: { program: '/root/counter.py' },
    links: {},
    ...patch
  };
}

describe('SessionsModel', () => {
  it('lists newest first and tells when it changes', () => {
    const model = new SessionsModel();
    let changes = 0;
    model.changed.connect(() => changes++);
    model.apply({
      type: 'sessions',
      sessions: [
        session('old', { created: '2026-12-05T09:00:00.000000Z' }),
        session('new', { created: '2026-12-05T11:00:00.000000Z' })
      ]
    });
    expect(model.loaded).toBe(true);
    expect(model.sessions.map(s => s.id)).toEqual(['new', 'old']);
    model.apply({
      type: 'session',
      session: session('newest', { created: '2026-12-05T12:00:00.000000Z' })
    });
    expect(model.sessions.map(s => s.id)).toEqual(['newest', 'new', 'old']);
    expect(changes).toBe(2);
  });

  it('never goes back to an older model of a session', () => {
    const model = new SessionsModel();
    model.update(session('a', { state: 'running', updated: '2026-12-05T10:00:02.000000Z' }));
    // A REST answer that left the server before the event did:
    model.update(session('a', { state: 'stopped', updated: '2026-12-05T10:00:01.000000Z' }));
    expect(model.get('a')!.state).toBe('running');
    model.update(session('a', { state: 'exited', updated: '2026-12-05T10:00:03.000000Z' }));
    expect(model.get('a')!.state).toBe('exited');
    expect(model.sessions[0].state).toBe('exited');
  });

  it('drops sessions the server no longer lists on a new full list', () => {
    const model = new SessionsModel();
    model.apply({ type: 'sessions', sessions: [session('a'), session('b')] });
    model.apply({ type: 'sessions', sessions: [session('b')] });
    expect(model.sessions.map(s => s.id)).toEqual(['b']);
  });

  it('keeps the selection, even before the session is listed', () => {
    const model = new SessionsModel();
    const seen: (string | null)[] = [];
    model.selectionChanged.connect((_, id) => seen.push(id));
    model.select('later');
    model.select('later');
    expect(model.selected).toBeNull();
    model.update(session('later'));
    expect(model.selected!.id).toBe('later');
    expect(seen).toEqual(['later']);
  });
});
