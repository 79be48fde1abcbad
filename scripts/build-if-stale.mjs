#!/usr/bin/env node
/**
 * Compiles the server (tsc -p tsconfig.build.json) only when its inputs changed since the last
 * build: npm start then starts in about a second instead of paying for a type-checked build each
 * time. The inputs (every file under src/, the tsconfig files, the lockfile) are hashed and the
 * hash kept beside the output; a build that fails leaves no hash, so the next start tries again.
 * Plain JavaScript, run by node alone: no TypeScript loader on the start path.
 *   node scripts/build-if-stale.mjs [--out dist]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist' } } });
const root = process.cwd();
const out = join(root, values.out);
const stampFile = join(out, '.build-hash');
const say = (message) => process.stderr.write(`build: ${message}\n`);

if (!existsSync(join(root, 'src'))) {
  // npm ci in the image's first layer runs before the sources are copied.
  say('no src/ here yet, nothing to build');
  process.exit(0);
}

function inputsHash() {
  const files = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath ?? entry.path, entry.name)))
    .concat(['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].filter((f) => existsSync(join(root, f))))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(root, file))).update('\0');
  return hash.digest('hex');
}

const hash = inputsHash();
const built = existsSync(join(out, 'src', 'main.js'));
const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : undefined;
if (built && stamp === hash) {
  say(`${values.out}/ is up to date with the sources`);
  process.exit(0);
}

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // An install without dev dependencies: serve what was built, if anything was.
  say(`typescript is not installed (an install without dev dependencies)${built ? `: starting the existing ${values.out}/` : ''}`);
  process.exit(built ? 0 : 1);
}
say(`${built ? 'sources changed' : `no ${values.out}/ yet`}: compiling (tsc -p tsconfig.build.json)`);
rmSync(stampFile, { force: true });
const t0 = Date.now();
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, stdio: 'inherit' });
if (run.status !== 0) {
  say('tsc failed');
  process.exit(run.status ?? 1);
}
writeFileSync(stampFile, `${hash}\n`);
say(`compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
