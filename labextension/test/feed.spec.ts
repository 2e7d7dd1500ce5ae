import type { DebugAPI } from '../src/api';
import { DebugServerError } from '../src/errors';
import { MAX_CHUNKS, SessionFeed } from '../src/feed';
import { SessionsModel } from '../src/sessions';
import type { IOutputChunk, IOutputPage, ISnapshotPage } from '../src/types';
import { session } from './sessions.spec';

/** A server with `total` chunks of output and `stops` snapshots, paged as the routes are. */
function fakeServer(total: number, stops: number) {
  const calls: string[] = [];
  const chunk = (seq: number): IOutputChunk => ({
    seq,
    category: seq % 2 ? 'stdout' : 'stderr',
    output: `line ${seq}\n`,
    time: '2026-12-05T10:00:00Z'
  });
  const api = {
    async output(_: string, since: number, limit: number): Promise<IOutputPage> {
      calls.push(`output ${since}`);
      const items: IOutputChunk[] = [];
      for (let seq = since + 1; seq <= Math.min(total, since + limit); seq++) {
        items.push(chunk(seq));
      }
      return { items, next: items.length ? items[items.length - 1].seq : since, truncated: false, state: 'exited' };
    },
    async snapshots(_: string, since: number, limit: number): Promise<ISnapshotPage> {
      const items = [];
      for (let seq = since + 1; seq <= Math.min(stops, since + limit); seq++) {
        items.push({
          seq, time: '', thread_id: 1, reason: 'step', description: null,
          frames: [{ function: 'f', path: '/r/c.py', line: seq }],
          variables: [], watches: [], complete: true, truncated: false
        });
      }
      return { items, next: since + items.length, truncated: false, state: 'exited' };
    }
  };
  return { api: api as unknown as DebugAPI, calls };
}

function ended(): SessionsModel {
  const model = new SessionsModel();
  model.update(session('s', { state: 'exited', exit_code: 0 }));
  return model;
}

describe('SessionFeed of an ended session', () => {
  it('reads every page of output and every stop, in order', async () => {
    const { api, calls } = fakeServer(2500, 130);
    const feed = new SessionFeed('s', api, ended(), () => undefined);
    const stops = new Promise<void>(resolve => feed.snapshotsChanged.connect(() => resolve()));
    await feed.drainOutput(); // (joins the constructor's read: it reads again when done)
    await stops;
    expect(feed.chunks.length).toBe(2500);
    expect(feed.chunks.map(c => c.seq)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    expect(calls.slice(0, 3)).toEqual(['output 0', 'output 1000', 'output 2000']);
    expect(feed.snapshots.map(s => s.seq)).toEqual(Array.from({ length: 130 }, (_, i) => i + 1));
    feed.dispose();
  });

  it(`keeps at most ${MAX_CHUNKS} chunks in view and counts the others`, async () => {
    const { api } = fakeServer(MAX_CHUNKS + 1500, 0);
    const feed = new SessionFeed('s', api, ended(), () => undefined);
    await feed.drainOutput();
    while (feed.chunks.length && feed.chunks[feed.chunks.length - 1].seq < MAX_CHUNKS + 1500) {
      await new Promise<void>(resolve => feed.output.connect(() => resolve()));
    }
    expect(feed.chunks.length).toBe(MAX_CHUNKS);
    expect(feed.hidden).toBe(1500);
    expect(feed.chunks[0].seq).toBe(1501);
    feed.dispose();
  });

  it("reports a refusal with the server's sentence", async () => {
    const api = {
      output: () => Promise.reject(new DebugServerError('no debug session with id s', 404)),
      snapshots: () => Promise.reject(new DebugServerError('no debug session with id s', 404))
    } as unknown as DebugAPI;
    const errors: string[] = [];
    let reported: () => void = () => undefined;
    const both = new Promise<void>(resolve => (reported = resolve));
    const feed = new SessionFeed('s', api, ended(), error => {
      errors.push(error.message);
      if (errors.length === 2) {
        reported();
      }
    });
    await both;
    expect(errors).toEqual(['no debug session with id s', 'no debug session with id s']);
    feed.dispose();
  });
});
