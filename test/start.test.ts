import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { freePort } from '../scripts/bench/lib.js';
import { SEMI_SPACE_FLAG } from '../src/cluster.js';
import { serverEnv } from './processes.js';

const ROOT = new URL('..', import.meta.url).pathname;
// Inside the repository, as dist/ is: the built server finds conformance/ and profiles/ beside package.json.
const OUT = join(ROOT, `dist-test-${process.pid}`);
const dataDir = mkdtempSync(join(tmpdir(), 'carnet-start-'));
afterAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

it('the built server (what npm start runs) serves metadata and stores a resource', async () => {
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', OUT], { cwd: ROOT });
  const port = await freePort();
  // The node options of package.json's start script, then the built entry point.
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ');
  expect(start[0]).toBe('node');
  expect(start.at(-1)).toBe('dist/src/main.js');
  // One process gets the young generation the supervisor gives its workers.
  expect(start).toContain(SEMI_SPACE_FLAG);
  const child = spawn(process.execPath, [...start.slice(1, -1), join(OUT, 'src/main.js')], { cwd: tmpdir(), env: serverEnv({ PORT: String(port), CARNET_DATA_DIR: dataDir }), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    let metadata: Response | undefined;
    for (let i = 0; i < 150 && !metadata; i++) {
      metadata = await fetch(`http://127.0.0.1:${port}/fhir/metadata`).catch(() => undefined);
      if (!metadata) await new Promise((r) => setTimeout(r, 100));
    }
    expect(metadata?.status, err).toBe(200);
    expect(((await metadata!.json()) as { fhirVersion: string }).fhirVersion).toBe('4.0.1');
    const token = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
    const created = await fetch(`http://127.0.0.1:${port}/fhir/Patient/$validate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Construit' }] }),
    });
    expect(created.status).toBe(200);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}, 180_000);

describe('npm start compiles only when the sources changed', () => {
  const project = mkdtempSync(join(tmpdir(), 'carnet-build-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const build = () => promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build-if-stale.mjs')], { cwd: project });
  const main = join(project, 'dist/src/main.js');

  it('is what npm start and npm install run', () => {
    expect(scripts.prestart).toBe('node scripts/build-if-stale.mjs');
    expect(scripts.prepare).toBe('node scripts/build-if-stale.mjs');
  });

  it('builds a missing dist/, then leaves it alone until a source file changes', async () => {
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', outDir: 'dist', rootDir: '.', types: [] } }));
    writeFileSync(join(project, 'tsconfig.build.json'), JSON.stringify({ extends: './tsconfig.json', include: ['src'] }));
    writeFileSync(join(project, 'src/main.ts'), 'export const answer: number = 1;\n');

    expect((await build()).stderr).toMatch(/no dist\/ yet: compiling/);
    expect(readFileSync(main, 'utf8')).toMatch(/answer = 1/);
    const builtAt = statSync(main).mtimeMs;

    expect((await build()).stderr).toMatch(/up to date/);
    expect(statSync(main).mtimeMs).toBe(builtAt);

    writeFileSync(join(project, 'src/main.ts'), 'export const answer: number = 2;\n');
    expect((await build()).stderr).toMatch(/sources changed: compiling/);
    expect(readFileSync(main, 'utf8')).toMatch(/answer = 2/);

    // A new file is a change too; a build that fails is tried again at the next start.
    writeFileSync(join(project, 'src/broken.ts'), 'export const n: number = "not a number";\n');
    await expect(build()).rejects.toThrow(/tsc failed/);
    await expect(build()).rejects.toThrow(/sources changed: compiling/);
    rmSync(join(project, 'src/broken.ts'));
    expect((await build()).stderr).toMatch(/sources changed: compiling/);
    expect((await build()).stderr).toMatch(/up to date/);
  }, 180_000);

  it('does nothing where there are no sources yet (the image runs npm ci before copying them)', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'carnet-build-empty-'));
    try {
      const { stderr } = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build-if-stale.mjs')], { cwd: empty });
      expect(stderr).toMatch(/nothing to build/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
