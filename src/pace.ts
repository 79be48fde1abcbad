/**
 * Long loops hand the event loop back now and then, so one costly request does not stall every
 * other client: `due()` is cheap enough to call per record (it reads the clock every `checkEvery`
 * calls, 64 by default; 1 for a loop whose steps are costly themselves), and true once the current
 * slice has run SLICE_MS; `pause()` then waits for the next turn of the event loop (setImmediate:
 * after pending I/O, so other requests' callbacks run first).
 */
export const SLICE_MS = 2;

export interface Pace {
  due(): boolean;
  pause(): Promise<void>;
}

export function pace(checkEvery = 64, sliceMs = SLICE_MS): Pace {
  let start = performance.now();
  let calls = 0;
  return {
    due: () => ++calls % checkEvery === 0 && performance.now() - start >= sliceMs,
    pause: () =>
      new Promise((resolve) =>
        setImmediate(() => {
          start = performance.now();
          resolve();
        }),
      ),
  };
}

/**
 * Past this many values a resource is large: its validation, indexing and commit each cost the
 * event loop a few milliseconds per 1,000 values (measured on a 2-core VM: a Patient of 2,000 names,
 * 8,000 values, 14 to 19 ms to index, about 30 ms to commit), so a write of one lets other requests'
 * callbacks run between those steps.
 */
export const LARGE_RESOURCE_VALUES = 2_000;

/** The next turn of the event loop, after pending I/O (other requests' callbacks run first). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
