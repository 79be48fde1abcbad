import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobTooLarge, type BlobInfo, type Store } from './store.js';
import { conformanceTests, type SkipList } from './conformance/suite.js';

/**
 * The blob conformance suite (Store.putBlob, openBlob, statBlob, deleteBlob): every engine registers it from
 * its own test file, beside runStoreConformance. Each test gets a fresh store from newStore() and
 * closes it afterwards. A test an engine cannot pass goes in `skip` with the reason.
 */
export interface BlobConformanceOptions {
  name: string;
  newStore: () => Promise<Store>;
  skip?: SkipList;
}

const MB = 1024 * 1024;

/** What node:crypto says of the content. */
export function expectedInfo(content: Uint8Array): BlobInfo {
  return {
    sha256: createHash('sha256').update(content).digest('hex'),
    sha1: createHash('sha1').update(content).digest('base64'),
    size: content.byteLength,
  };
}

/** The content in chunks of uneven sizes, yielded asynchronously as a network upload would. */
export async function* chunked(content: Uint8Array, sizes = [1, 7_000, 65_536, 300_001]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let n = 0; at < content.byteLength; n++) {
    const size = sizes[n % sizes.length]!;
    await new Promise((resolve) => setImmediate(resolve));
    yield content.subarray(at, at + size);
    at += size;
  }
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(typeof part === 'string' ? Buffer.from(part) : part);
  return Buffer.concat(parts);
}

export function runBlobConformance(opts: BlobConformanceOptions): void {
  let current: Store | undefined;
  const { test, unusedSkips } = conformanceTests(opts.skip, () => current);

  /** Stores the content and checks every way of reading it back. */
  async function roundTrip(store: Store, content: Uint8Array, given: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    const expected = expectedInfo(content);
    expect(await store.putBlob(given, { maxBytes: 64 * MB })).toEqual(expected);
    expect(await store.statBlob(expected.sha256)).toEqual(expected);
    const opened = await store.openBlob(expected.sha256);
    expect(opened?.info).toEqual(expected);
    const back = await readAll(opened!.stream);
    expect(back.byteLength).toBe(content.byteLength);
    expect(back.equals(content)).toBe(true);
  }

  describe(`Blob conformance: ${opts.name}`, () => {
    beforeEach(async () => {
      current = await opts.newStore();
    });
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });

    describe('round trip', () => {
      test('small content given as one Uint8Array', async (store) => {
        await roundTrip(store, Buffer.from('%PDF-1.7 compte rendu'), Buffer.from('%PDF-1.7 compte rendu'));
      });
      test('empty content', async (store) => {
        const empty = new Uint8Array(0);
        await roundTrip(store, empty, empty);
        await roundTrip(store, empty, chunked(empty));
      });
      test('multi-megabyte content streamed in uneven chunks', async (store) => {
        const content = randomBytes(5 * MB + 123);
        await roundTrip(store, content, chunked(content));
      });
      test('info gives sha256 as lowercase hex, sha1 as base64 and the size', async (store) => {
        const info = await store.putBlob(Buffer.from('abc'), { maxBytes: 10 });
        expect(info).toEqual({
          sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
          sha1: 'qZk+NkcGgWq6PiVxeFDCbJzQ2J0=',
          size: 3,
        });
      });
      test('distinct contents stored concurrently are all kept apart', async (store) => {
        const contents = Array.from({ length: 6 }, () => randomBytes(300_000));
        const infos = await Promise.all(contents.map((c) => store.putBlob(chunked(c), { maxBytes: MB })));
        expect(infos).toEqual(contents.map(expectedInfo));
        for (const [n, content] of contents.entries()) {
          expect((await readAll((await store.openBlob(infos[n]!.sha256))!.stream)).equals(content)).toBe(true);
        }
      });
    });

    describe('identical content', () => {
      test('is stored once: a second put answers the same info', async (store) => {
        const content = randomBytes(600_000);
        const first = await store.putBlob(content, { maxBytes: MB });
        const second = await store.putBlob(chunked(content), { maxBytes: MB });
        expect(second).toEqual(first);
        expect((await readAll((await store.openBlob(first.sha256))!.stream)).equals(content)).toBe(true);
      });
      test('concurrent puts of the same content all succeed', async (store) => {
        const content = randomBytes(700_000);
        const infos = await Promise.all(Array.from({ length: 4 }, () => store.putBlob(chunked(content), { maxBytes: MB })));
        for (const info of infos) expect(info).toEqual(expectedInfo(content));
        expect((await readAll((await store.openBlob(infos[0]!.sha256))!.stream)).equals(content)).toBe(true);
      });
    });

    describe('limits and failures', () => {
      test('content of exactly maxBytes is kept', async (store) => {
        const content = randomBytes(1000);
        expect(await store.putBlob(chunked(content, [300]), { maxBytes: 1000 })).toEqual(expectedInfo(content));
      });
      test('content past maxBytes throws BlobTooLarge and keeps nothing', async (store) => {
        const content = randomBytes(1001);
        for (const given of [content, chunked(content, [300])]) {
          const err = await store.putBlob(given, { maxBytes: 1000 }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(BlobTooLarge);
          expect(err).toMatchObject({ maxBytes: 1000 });
        }
        expect(await store.statBlob(expectedInfo(content).sha256)).toBeUndefined();
        expect(await store.statBlob(expectedInfo(content.subarray(0, 1000)).sha256)).toBeUndefined();
        expect(await store.statBlob(expectedInfo(content.subarray(0, 900)).sha256)).toBeUndefined();
      });
      test('an endless content stops being read past maxBytes', async (store) => {
        let read = 0;
        async function* endless(): AsyncGenerator<Uint8Array> {
          for (;;) {
            read += 64 * 1024;
            yield new Uint8Array(64 * 1024);
          }
        }
        await expect(store.putBlob(endless(), { maxBytes: MB })).rejects.toBeInstanceOf(BlobTooLarge);
        expect(read).toBeLessThanOrEqual(MB + 64 * 1024);
      });
      test('content that fails part-way rejects with its error and keeps nothing', async (store) => {
        const content = randomBytes(400_000);
        async function* failing(): AsyncGenerator<Uint8Array> {
          yield content.subarray(0, 300_000);
          throw new Error('connection reset by the client');
        }
        await expect(store.putBlob(failing(), { maxBytes: MB })).rejects.toThrow('connection reset by the client');
        expect(await store.statBlob(expectedInfo(content.subarray(0, 300_000)).sha256)).toBeUndefined();
      });
      test('a maxBytes that is not a byte count is refused', async (store) => {
        await expect(store.putBlob(Buffer.from('x'), { maxBytes: Number.NaN })).rejects.toBeInstanceOf(TypeError);
        await expect(store.putBlob(Buffer.from('x'), { maxBytes: -1 })).rejects.toBeInstanceOf(TypeError);
      });
    });

    describe('unknown blobs', () => {
      test('openBlob and statBlob of an unknown sha256 answer undefined', async (store) => {
        const unknown = expectedInfo(randomBytes(16)).sha256;
        expect(await store.openBlob(unknown)).toBeUndefined();
        expect(await store.statBlob(unknown)).toBeUndefined();
      });
      test('a string that is not a lowercase hex sha256 names no blob', async (store) => {
        const info = await store.putBlob(Buffer.from('abc'), { maxBytes: 10 });
        for (const name of [info.sha256.toUpperCase(), `../${info.sha256}`, info.sha256.slice(1), '', '../../blobs/tmp']) {
          expect(await store.openBlob(name)).toBeUndefined();
          expect(await store.statBlob(name)).toBeUndefined();
        }
      });
    });

    describe('delete', () => {
      test('removes the content: open and stat answer undefined, a second delete false', async (store) => {
        const content = randomBytes(400_000);
        const info = await store.putBlob(chunked(content), { maxBytes: MB });
        expect(await store.deleteBlob(info.sha256)).toBe(true);
        expect(await store.statBlob(info.sha256)).toBeUndefined();
        expect(await store.openBlob(info.sha256)).toBeUndefined();
        expect(await store.deleteBlob(info.sha256)).toBe(false);
      });
      test('leaves the other blobs alone', async (store) => {
        const [a, b] = [randomBytes(300_000), randomBytes(300_000)];
        const [infoA, infoB] = [await store.putBlob(a, { maxBytes: MB }), await store.putBlob(chunked(b), { maxBytes: MB })];
        expect(await store.deleteBlob(infoA.sha256)).toBe(true);
        expect(await store.statBlob(infoB.sha256)).toEqual(expectedInfo(b));
        expect((await readAll((await store.openBlob(infoB.sha256))!.stream)).equals(b)).toBe(true);
      });
      test('the same content can be stored again afterwards', async (store) => {
        const content = randomBytes(200_000);
        const info = await store.putBlob(content, { maxBytes: MB });
        await store.deleteBlob(info.sha256);
        await roundTrip(store, content, chunked(content));
      });
      test('an unknown sha256 or a string that is not one deletes nothing', async (store) => {
        const info = await store.putBlob(Buffer.from('abc'), { maxBytes: 10 });
        for (const name of [expectedInfo(randomBytes(16)).sha256, info.sha256.toUpperCase(), `../${info.sha256}`, '', '../../blobs/tmp']) {
          expect(await store.deleteBlob(name)).toBe(false);
        }
        expect(await store.statBlob(info.sha256)).toEqual(info);
      });
      test('concurrent deletes of one blob: exactly one answers true', async (store) => {
        const info = await store.putBlob(randomBytes(100_000), { maxBytes: MB });
        const answers = await Promise.all(Array.from({ length: 4 }, () => store.deleteBlob(info.sha256)));
        expect(answers.filter(Boolean)).toHaveLength(1);
        expect(await store.statBlob(info.sha256)).toBeUndefined();
      });
    });

    it('every skip entry names a test of this suite', () => {
      expect(unusedSkips()).toEqual([]);
    });
  });
}
