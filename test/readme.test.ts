import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROCESS_TIMEOUT, serverEnv, startProcess, type Running } from './processes.js';

const ROOT = new URL('..', import.meta.url).pathname;

/** The shell blocks of the README's section that starts with `heading`, as written. */
function shellBlocks(heading: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}`);
  expect(start, `README section "${heading}"`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const dataDir = mkdtempSync(join(tmpdir(), 'carnet-readme-'));
let server: Running;
beforeAll(async () => {
  server = await startProcess({ CARNET_DATA_DIR: dataDir });
}, PROCESS_TIMEOUT);
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

it("the README's first steps work as written: create, read, search, upload a document, and the patient reads it", async () => {
  const blocks = shellBlocks('## First steps');
  // One shell runs every block in order, as a reader pasting them would; a marker line between
  // blocks (printed by the test, not part of them) tells whose output is whose.
  const script = blocks.map((block, i) => `printf '\\n@@block ${i}@@\\n'\n${block}`).join('\n');
  const { CARNET_AUTH_JWKS: _jwks, ...env } = serverEnv({ PORT: String(server.port), CARNET_DATA_DIR: dataDir });
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
  const out = stdout.split(/\n@@block \d+@@\n/).slice(1);
  expect(out).toHaveLength(blocks.length);
  const [setup, created, searched, uploaded, patientSearch, patientRead] = out as [string, string, string, string, string, string];
  expect(blocks).toHaveLength(6);

  expect(setup).toBe('');
  const patient = JSON.parse(created);
  expect(patient).toMatchObject({ resourceType: 'Patient', name: [{ family: 'Martin', given: ['Lucie'] }], birthDate: '1984-03-02' });

  const bundle = JSON.parse(searched);
  expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
  expect(bundle.entry[0].resource.id).toBe(patient.id);

  const doc = JSON.parse(uploaded);
  expect(doc.resourceType, uploaded).toBe('DocumentReference');
  expect(doc.subject.reference).toBe(`Patient/${patient.id}`);
  const binaryUrl: string = doc.content[0].attachment.url;
  expect(binaryUrl).toMatch(/^Binary\/[A-Za-z0-9\-.]+$/);

  const found = JSON.parse(patientSearch);
  expect(found).toMatchObject({ resourceType: 'Bundle', total: 1 });
  expect(found.entry[0].resource.id).toBe(doc.id);

  // The patient reaches a Binary stored without a security context through the DocumentReference
  // that points at it: main's access model since 53b4bcc (and issue 14 item 1). On a branch without
  // it, this one assertion fails (the patient gets 404 for the Binary); every step before it passes.
  expect(patientRead).toBe('Compte rendu de consultation du 2 mars : examen normal.\n');
}, PROCESS_TIMEOUT);
