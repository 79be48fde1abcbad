import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { loadRules } from './rules.js';

const rule = {
  code: 'r', title: 'Règle', text: 'Texte', source: 'https://example.org/source',
  population: { ageFrom: 'P1Y', ageTo: 'P2Y' }, schedule: { every: ['P1Y'] }, done: [{ reminder: true }],
};

describe('prevention rule files', () => {
  const dirs: string[] = [];
  afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
  const folder = (files: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'carnet-rules-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    return dir;
  };

  it('the calendar in conformance/prevention loads: every family, every rule code once, every value set named', () => {
    const rules = loadRules();
    const families = new Set(rules.map((r) => r.family));
    expect([...families].sort()).toEqual([
      'bilan-prevention.json', 'depistage-cancers.json', 'hpv.json', 'meningocoque.json', 'mt-dents.json', 'rappels.json', 'vaccinations-65-ans.json', 'vaccinations-nourrisson.json',
    ]);
    expect(new Set(rules.map((r) => r.code)).size).toBe(rules.length);
    for (const r of rules.filter((x) => x.done.some((d) => 'immunization' in d))) {
      expect([...r.vaccines].some((k) => k.startsWith('http://www.whocc.no/atc|J07')), r.code).toBe(true);
    }
  });

  it('a file that does not load is named with its problem', () => {
    expect(() => loadRules(folder({ 'a.json': '{ not json' }))).toThrow(/^prevention rules a\.json: not JSON/);
    expect(() => loadRules(folder({ 'b.json': { family: 'b', title: 'B', rules: [{ ...rule, population: { ageFrom: '2 ans', ageTo: 'P2Y' } }] } })))
      .toThrow(/^prevention rules b\.json: \/rules\/0\/population\/ageFrom must match pattern/);
    expect(() => loadRules(folder({ 'c.json': { family: 'c', title: 'C', rules: [{ ...rule, done: [{ immunization: 'nowhere' }] }] } })))
      .toThrow(/^prevention rules c\.json: \/rules\/0 names the value set "nowhere"/);
    expect(() => loadRules(folder({ 'd.json': { family: 'd', title: 'D', rules: [rule] }, 'e.json': { family: 'e', title: 'E', rules: [rule] } })))
      .toThrow(/^prevention rules e\.json: \/rules\/0 code "r" is already used in d\.json/);
  });

  it('a rule file that does not load stops start-up, naming the file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'carnet-rules-data-'));
    dirs.push(dataDir);
    const rules = folder({ 'broken.json': { family: 'broken', title: 'B', rules: [{ ...rule, source: 'pas une adresse' }] } });
    const config = loadConfig({ CARNET_DATA_DIR: dataDir, LOG_LEVEL: 'silent', CARNET_PREVENTION_RULES: rules });
    await expect(createApp({ config, logger: createLogger('silent') })).rejects.toThrow(/prevention rules broken\.json: \/rules\/0\/source must match format "uri"/);
  });

  it('CARNET_PREVENTION_CRON must be a cron expression', () => {
    expect(() => loadConfig({ CARNET_PREVENTION_CRON: 'tous les jours' })).toThrow(/CARNET_PREVENTION_CRON: "tous les jours" is not a cron expression/);
    expect(loadConfig({}).preventionCron).toBe('0 2 * * *');
  });
});
