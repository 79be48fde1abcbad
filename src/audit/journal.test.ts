import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rec } from '../store/conformance.js';
import { createLmdbStore, type LmdbStore } from '../store/lmdb/lmdb-store.js';
import type { CurrentRecord } from '../store/store.js';
import { chainLinksOf, headKey, verifyChains } from './chain.js';
import { createHeadKeeper } from './heads.js';
import { createJournal } from './journal.js';

const T = '2026-12-07T10:00:00.000Z';
const event = (id: string) => rec('AuditEvent', id, 1, T, { comp: ['Patient/p1'], data: { action: 'R', recorded: T } });

describe('the journal and the heads of its chains', () => {
  let store: LmdbStore | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const open = async () => {
    dir = await mkdtemp(join(tmpdir(), 'carnet-journal-'));
    return (store = await createLmdbStore({ path: dir }));
  };

  it('where the store does not group writes itself (MongoDB), sends one at a time and the events that come meanwhile together, in order', async () => {
    const s = await open();
    const append = s.append.bind(s);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sent: string[][] = [];
    // The embedded store, seen as one that does not group the writes it is sent.
    const ungrouped = { ...s, groupsWrites: false, append: async (records: CurrentRecord[], opts?: { marks?: boolean }) => {
      sent.push(records.map((r) => r.id));
      if (sent.length === 1) await gate;
      return append(records, opts);
    } };
    const journal = createJournal(ungrouped);
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const first = journal.append([event('a')]);
    await turn();
    // Three requests finish one per turn while the first write is under way.
    const later: Promise<void>[] = [];
    for (const id of ['b', 'c', 'd']) {
      later.push(journal.append([event(id)]));
      await turn();
    }
    expect(sent).toEqual([['a']]);
    release();
    await Promise.all([first, ...later]);
    expect(sent).toEqual([['a'], ['b', 'c', 'd']]);
    const seqs = await Promise.all(['a', 'b', 'c', 'd'].map(async (id) => chainLinksOf((await s.read('AuditEvent', id))!.resource!)[0].seq));
    expect(seqs).toEqual([1, 2, 3, 4]);
  });

  it('writes the next events while earlier ones are on their way, and starts new chains after a write that failed', async () => {
    const s = await open();
    // The first write of events waits, then fails (a disk that filled up); the others go through.
    const append = s.append.bind(s);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    s.append = async (records: CurrentRecord[], opts) => {
      if (++calls === 1) {
        await gate;
        throw new Error('no space left on device');
      }
      return append(records, opts);
    };
    const journal = createJournal(s);
    const [a, b, c] = [event('a'), event('b'), event('c')];
    const lost = journal.append([a]);
    lost.catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    // b is durable while a's write is still on its way.
    await journal.append([b]);
    release();
    await expect(lost).rejects.toThrow('no space left on device');
    await journal.append([c]);

    const stored = await Promise.all(['a', 'b', 'c'].map((id) => s.read('AuditEvent', id)));
    expect(stored[0]).toBeUndefined();
    const [linkB] = chainLinksOf(stored[1]!.resource!);
    const [linkC] = chainLinksOf(stored[2]!.resource!);
    expect(linkB.seq).toBe(2);
    // c starts a chain of its own, rather than following b as if a had been written.
    expect(linkC.chain).not.toBe(linkB.chain);
    expect(linkC.seq).toBe(1);
    const verified = verifyChains('Patient/p1', [stored[1]!.resource!, stored[2]!.resource!]);
    expect(verified.broken).toEqual({ event: 'AuditEvent/b', chain: linkB.chain, reason: 'position 2 where 1 was expected: events are missing before it' });
  });

  it("writes a notification with its access's event, beside the other events: a write that fails fails only its requests", async () => {
    const s = await open();
    const append = s.append.bind(s);
    let fail = true;
    // The disk fills up for the write that carries the notification.
    s.append = async (records: CurrentRecord[], opts) => {
      if (fail && records.some((r) => r.type === 'Communication')) throw new Error('no space left on device');
      return append(records, opts);
    };
    const journal = createJournal(s);
    const notice = rec('Communication', 'first-access-p1', 1, T, { comp: ['Patient/p1'], data: { status: 'completed' } });
    // Sent in one turn: one batch.
    const plain = journal.append([event('a')]);
    const noticed = journal.append([event('b')], [notice]);
    await expect(plain).resolves.toBeUndefined();
    await expect(noticed).rejects.toThrow('no space left on device');
    expect(await s.read('AuditEvent', 'a')).toBeDefined();
    expect(await s.read('AuditEvent', 'b')).toBeUndefined();
    expect(await s.read('Communication', 'first-access-p1')).toBeUndefined();

    fail = false;
    await Promise.all([journal.append([event('c')], [notice]), journal.append([event('d')])]);
    expect((await s.read('Communication', 'first-access-p1'))?.resource).toBeDefined();
    // The notification exists now: the next access's event is written, the notification dropped.
    await journal.append([event('e')], [{ ...notice, lastUpdated: '2026-12-07T11:00:00.000Z' }]);
    for (const id of ['c', 'd', 'e']) expect(await s.read('AuditEvent', id), id).toBeDefined();
    expect((await s.read('Communication', 'first-access-p1'))?.lastUpdated).toBe(T);
  });

  it("moves no change mark with a notification: the access facts kept for the patient's record stay kept", async () => {
    dir = await mkdtemp(join(tmpdir(), 'carnet-journal-'));
    const s = (store = await createLmdbStore({ path: dir, marked: ['Communication'] }));
    const journal = createJournal(s);
    const notice = rec('Communication', 'first-access-p1', 1, T, { comp: ['Patient/p1'], data: { status: 'completed' } });
    const keys = ['comp:Patient/p1', 'type:Communication'];
    const before = await s.readMarks(keys);
    await journal.append([event('a')], [notice]);
    expect(await s.exists('Communication', 'first-access-p1')).toBe(true);
    expect(await s.readMarks(keys)).toEqual(before);
  });

  it('fails the requests whose event was left out for an id already used, and only those', async () => {
    const s = await open();
    const journal = createJournal(s);
    const notice = rec('Communication', 'first-access-p1', 1, T, { comp: ['Patient/p1'], data: { status: 'completed' } });
    await journal.append([event('x')]);
    const clash = { ...event('x'), lastUpdated: '2026-12-07T12:00:00.000Z' };
    await expect(journal.append([clash], [notice])).rejects.toThrow('an access event with an id already used was left out');
    expect((await s.read('AuditEvent', 'x'))?.lastUpdated).toBe(T);
  });

  it('a head never moves back when commits on their way together land out of order', async () => {
    const s = await open();
    const heads = createHeadKeeper(s, 60_000);
    const key = headKey('Patient/p1', 'c1');
    heads.moved(new Map([[key, { seq: 6, hash: 'h6' }]]));
    heads.moved(new Map([[key, { seq: 5, hash: 'h5' }]]));
    await heads.flush();
    expect((await s.getState(key))?.value).toEqual({ seq: 6, hash: 'h6' });
    heads.moved(new Map([[key, { seq: 4, hash: 'h4' }]]));
    heads.moved(new Map([[key, { seq: 7, hash: 'h7' }]]));
    await heads.close();
    expect((await s.getState(key))?.value).toEqual({ seq: 7, hash: 'h7' });
  });
});
