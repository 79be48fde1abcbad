import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, startServer, type TestServer } from './harness.js';

describeEngines('history paging', (engine) => {
  let s: TestServer;
  let token: string;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  beforeAll(async () => {
    // An injected clock that moves one second per write, so _since is exact.
    s = await startServer(engine, {}, () => new Date((clock += 1000)));
    token = await s.token({ scope: 'system/*.cruds' });
  });
  afterAll(async () => s?.close());

  it('pages type history with next/previous links, pinned against later writes, and honours _since', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await s.request({ method: 'POST', url: '/fhir/Organization', token, body: { resourceType: 'Organization', name: `Org ${i}` } })).body.id);
    }
    const first = await s.request({ method: 'GET', url: '/fhir/Organization/_history?_count=3', token });
    expect(first.body.total).toBe(7);
    expect(first.body.entry.map((e: any) => e.resource.name)).toEqual(['Org 6', 'Org 5', 'Org 4']);
    // A write between pages must not shift the pages already pinned.
    await s.request({ method: 'POST', url: '/fhir/Organization', token, body: { resourceType: 'Organization', name: 'Late' } });
    const seen: string[] = [];
    let page = first.body;
    for (;;) {
      seen.push(...page.entry.map((e: any) => e.resource.name));
      const next = page.link.find((l: any) => l.relation === 'next');
      if (!next) break;
      page = (await s.request({ method: 'GET', url: next.url.replace(s.baseUrl, '/fhir'), token })).body;
    }
    expect(seen).toEqual(['Org 6', 'Org 5', 'Org 4', 'Org 3', 'Org 2', 'Org 1', 'Org 0']);
    expect(page.link.some((l: any) => l.relation === 'previous')).toBe(true);

    const third = await s.request({ method: 'GET', url: `/fhir/Organization/${ids[2]}`, token });
    const since = await s.request({ method: 'GET', url: `/fhir/Organization/_history?_since=${third.body.meta.lastUpdated}`, token });
    expect(since.body.entry.map((e: any) => e.resource.name)).toEqual(['Late', 'Org 6', 'Org 5', 'Org 4', 'Org 3', 'Org 2']);
    // System history holds the access history too: every request so far, this count's own included.
    const audits = (await s.request({ method: 'GET', url: '/fhir/AuditEvent/_history?_count=1', token })).body.total;
    const system = await s.request({ method: 'GET', url: '/fhir/_history?_count=2', token });
    expect(system.body.total).toBe(8 + audits + 1);
    expect(system.body.entry).toHaveLength(2);
  });

  it('refuses a malformed _since or page cursor with 400', async () => {
    expect((await s.request({ method: 'GET', url: '/fhir/_history?_since=yesterday', token })).status).toBe(400);
    expect((await s.request({ method: 'GET', url: '/fhir/_history?_page=garbage', token })).status).toBe(400);
  });
});
