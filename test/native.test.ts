import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { expect, it } from 'vitest';

// CI runs the suite on Node 20 and 24: the binaries inside these npm packages must load on both
// (an ABI mismatch would make msgpackr fall back to JavaScript without a word).
it(`lmdb and msgpackr-extract load their native binaries on Node ${process.version}`, async () => {
  expect(isNativeAccelerationEnabled).toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'carnet-native-'));
  const db = open({ path: dir });
  try {
    await db.put('k', { resourceType: 'Patient', id: 'p1' });
    expect(db.get('k')).toEqual({ resourceType: 'Patient', id: 'p1' });
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
