import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameError,
  FrameKind,
  PROTOCOL_VERSION,
} from '../src/transport/frame.ts';

const KINDS = Object.values(FrameKind);

function decodeChunks(chunks: Uint8Array[], maxFrameBytes = 4096): { frames: Frame[]; error: FrameError | undefined } {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    frames.push(...result.frames.map((f) => ({ kind: f.kind, body: Buffer.from(f.body) })));
    if (result.error) return { frames, error: result.error };
  }
  return { frames, error: decoder.end() };
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

describe('frame encoding', () => {
  test('layout is [u32 BE length][version][kind][body]', () => {
    const frame = encodeFrame(FrameKind.Data, Buffer.from('abc'));
    assert.deepEqual([...frame], [0, 0, 0, 5, PROTOCOL_VERSION, FrameKind.Data, 0x61, 0x62, 0x63]);
  });

  test('body parts are concatenated', () => {
    const frame = encodeFrame(FrameKind.Data, Buffer.from('ab'), Buffer.from('c'));
    assert.deepEqual(frame, encodeFrame(FrameKind.Data, Buffer.from('abc')));
  });
});

describe('FrameDecoder', () => {
  const frames = [
    encodeFrame(FrameKind.Hello, Buffer.from('hello')),
    encodeFrame(FrameKind.Data, Buffer.alloc(0)),
    encodeFrame(FrameKind.Data, Buffer.alloc(300, 7)),
    encodeFrame(FrameKind.Ping, Buffer.from([1])),
  ];
  const stream = Buffer.concat(frames);

  test('decodes the stream split at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { frames: out, error } = decodeChunks([stream.subarray(0, cut), stream.subarray(cut)]);
      assert.equal(error, undefined, `cut at ${cut}`);
      assert.equal(out.length, 4);
      assert.deepEqual(out[2]!.body, Buffer.alloc(300, 7));
    }
  });

  test('decodes one byte at a time', () => {
    const chunks = [...stream].map((b) => Buffer.of(b));
    const { frames: out, error } = decodeChunks(chunks);
    assert.equal(error, undefined);
    assert.deepEqual(
      out.map((f) => f.kind),
      [FrameKind.Hello, FrameKind.Data, FrameKind.Data, FrameKind.Ping],
    );
  });

  test('decodes several frames from one chunk', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 4096 });
    const result = decoder.push(stream);
    assert.equal(result.error, undefined);
    assert.equal(result.frames.length, 4);
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('refuses an oversized frame from its length field alone, before buffering', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    const header = Buffer.alloc(4);
    header.writeUInt32BE(10 * 1024 * 1024);
    const result = decoder.push(header);
    assert.equal(result.error?.code, 'too-large');
    assert.equal(decoder.bufferedBytes, 0);
    // Spent: later input is ignored, the same error is reported.
    assert.equal(decoder.push(Buffer.alloc(100)).error?.code, 'too-large');
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('accepts a frame of exactly maxFrameBytes and refuses one byte more', () => {
    const exact = encodeFrame(FrameKind.Data, Buffer.alloc(1024 - 6));
    assert.equal(decodeChunks([exact], 1024).error, undefined);
    const over = encodeFrame(FrameKind.Data, Buffer.alloc(1024 - 5));
    assert.equal(decodeChunks([over], 1024).error?.code, 'too-large');
  });

  test('never buffers more than maxFrameBytes of a partial frame', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    const frame = encodeFrame(FrameKind.Data, Buffer.alloc(1000));
    decoder.push(frame.subarray(0, 900));
    assert.ok(decoder.bufferedBytes <= 1024);
  });

  test('reports a bad version as soon as the version byte arrives', () => {
    const frame = encodeFrame(FrameKind.Data, Buffer.from('x'));
    frame[4] = 2;
    assert.equal(decodeChunks([frame.subarray(0, 5)]).error?.code, 'bad-version');
  });

  test('reports an unknown kind', () => {
    const frame = encodeFrame(FrameKind.Data, Buffer.from('x'));
    frame[5] = 200;
    assert.equal(decodeChunks([frame]).error?.code, 'unknown-kind');
  });

  test('reports a length shorter than the header', () => {
    assert.equal(decodeChunks([Buffer.from([0, 0, 0, 1, 1])]).error?.code, 'malformed');
  });

  test('reports a stream truncated inside a frame at end, and a clean end between frames as fine', () => {
    const frame = encodeFrame(FrameKind.Data, Buffer.from('hello'));
    assert.equal(decodeChunks([frame.subarray(0, frame.length - 1)]).error?.code, 'truncated');
    assert.equal(decodeChunks([frame.subarray(0, 2)]).error?.code, 'truncated');
    assert.equal(decodeChunks([frame]).error, undefined);
  });

  test('returns the frames that precede an error in the same chunk', () => {
    const bad = Buffer.from([0, 0, 0, 3, 9, 9, 9]);
    const result = new FrameDecoder({ maxFrameBytes: 4096 }).push(Buffer.concat([frames[0]!, bad]));
    assert.equal(result.frames.length, 1);
    assert.equal(result.error?.code, 'bad-version');
  });
});

describe('FrameDecoder properties', () => {
  const arbFrame = fc.record({
    kind: fc.constantFrom(...KINDS),
    body: fc.uint8Array({ maxLength: 200 }),
  });

  test('round-trips any frames split at any points', () => {
    fc.assert(
      fc.property(fc.array(arbFrame, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (input, cuts) => {
        const bytes = Buffer.concat(input.map((f) => encodeFrame(f.kind, f.body)));
        const { frames: out, error } = decodeChunks(splitAt(bytes, cuts));
        assert.equal(error, undefined);
        assert.deepEqual(
          out.map((f) => [f.kind, [...f.body]]),
          input.map((f) => [f.kind, [...f.body]]),
        );
      }),
      { numRuns: 300 },
    );
  });

  test('random bytes never throw: they yield frames and/or one error, within the buffer bound', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
        for (const chunk of splitAt(Buffer.from(bytes), cuts)) {
          const result = decoder.push(chunk);
          assert.ok(decoder.bufferedBytes <= 1024);
          for (const frame of result.frames) assert.ok(KINDS.includes(frame.kind));
        }
        decoder.end();
      }),
      { numRuns: 500 },
    );
  });

  test('truncated or mutated valid streams never throw and never yield an unknown kind', () => {
    fc.assert(
      fc.property(
        fc.array(arbFrame, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (input, truncateAt, position, xor) => {
          const bytes = Buffer.concat(input.map((f) => encodeFrame(f.kind, f.body)));
          const mutated = Buffer.from(bytes);
          mutated[position % mutated.length]! ^= xor;
          const truncated = bytes.subarray(0, truncateAt % bytes.length);
          for (const stream of [mutated, truncated]) {
            const result = decodeChunks([stream], 1024);
            for (const frame of result.frames) assert.ok(KINDS.includes(frame.kind));
          }
          // A strict prefix always ends in 'truncated' or cleanly on a boundary.
          const error = decodeChunks([truncated], 1024).error;
          assert.ok(error === undefined || error.code === 'truncated');
        },
      ),
      { numRuns: 500 },
    );
  });

  test('any oversized length is refused with at most the header buffered', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1024 - 3, max: 0xffffffff }), fc.uint8Array({ maxLength: 64 }), (length, rest) => {
        const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
        const header = Buffer.alloc(4);
        header.writeUInt32BE(length);
        const result = decoder.push(Buffer.concat([header, rest]));
        assert.equal(result.error?.code, 'too-large');
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
  });
});
