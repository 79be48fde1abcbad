import { expect, it } from 'vitest';
import { createJournal } from '../../src/audit/journal.js';
import { rec } from '../../src/store/conformance.js';
import { describeEngines, useServer, type TestServer } from '../harness.js';

const T = '2026-12-06T10:00:00.000Z';

describeEngines('The audit journal with notifications sent once', (engine) => {
  let s: TestServer;
  useServer(engine, (server) => {
    s = server;
  });

  it('drops a notification another commit wrote first, and commits the events of every request of the batch', async () => {
    const store = s.app.store;
    await store.commit([{ record: rec('Communication', 'n-once', 1, T, { comp: ['Patient/p'] }), expect: { kind: 'absent' } }]);
    const journal = createJournal(store);
    const again = rec('Communication', 'n-once', 1, '2026-12-06T11:00:00.000Z', { comp: ['Patient/p'] });
    const fresh = rec('Communication', 'n-fresh', 1, T, { comp: ['Patient/p'] });
    // Appended in the same turn: one commit for the four requests.
    await Promise.all([
      journal.append([rec('AuditEvent', 'e1', 1, T)]),
      journal.append([rec('AuditEvent', 'e2', 1, T)], [again]),
      journal.append([rec('AuditEvent', 'e3', 1, T)], [fresh]),
      journal.append([rec('AuditEvent', 'e4', 1, T)], [{ ...fresh }]),
    ]);
    for (const id of ['e1', 'e2', 'e3', 'e4']) expect((await store.read('AuditEvent', id))?.versionId).toBe(1);
    expect((await store.read('Communication', 'n-once'))?.lastUpdated).toBe(T);
    expect((await store.read('Communication', 'n-fresh'))?.versionId).toBe(1);
    expect(journal.stats.commits).toBe(1);
  });

  it('still fails the commit when an event itself conflicts', async () => {
    const journal = createJournal(s.app.store);
    await journal.append([rec('AuditEvent', 'dup', 1, T)]);
    await expect(journal.append([rec('AuditEvent', 'dup', 1, T)])).rejects.toThrow();
  });
});
