/**
 * Length-prefixed frames: `[u32 BE length][u8 version][u8 kind][body]`, where `length` counts the bytes after
 * the length field (version + kind + body), so a frame occupies `4 + length` bytes on the wire.
 * @module
 */

/** The wire protocol version carried by every frame and every HELLO. */
export const PROTOCOL_VERSION = 1;

/** Bytes before the body: u32 length, u8 version, u8 kind. */
export const FRAME_HEADER_BYTES = 6;

/** Default and smallest allowed `maxFrameBytes` (the smallest must still fit the largest HELLO). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
export const MIN_MAX_FRAME_BYTES = 1024;
/** Largest `maxFrameBytes` a node may declare: the length field is 32-bit, and a cap keeps buffers sane. */
export const MAX_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * Frame kinds. HELLO, AUTH and REJECT are handshake frames and are never sealed; every other kind is only
 * valid after the handshake and is sealed by the session channel (MAC or AEAD) when a secret is configured.
 */
export const FrameKind = {
  Hello: 1,
  Auth: 2,
  Reject: 3,
  Ready: 4,
  Data: 5,
  Ping: 6,
  Retire: 7,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const KNOWN_KINDS: ReadonlySet<number> = new Set(Object.values(FrameKind));

/** Whether `kind` is a frame kind this version understands. */
export function isFrameKind(kind: number): kind is FrameKind {
  return KNOWN_KINDS.has(kind);
}

/** One decoded frame. `body` may be a view into a received chunk: copy it to keep it past the callback. */
export interface Frame {
  kind: FrameKind;
  body: Uint8Array;
}

/** Why a byte stream stopped decoding. */
export type FrameErrorCode = 'too-large' | 'bad-version' | 'unknown-kind' | 'malformed' | 'truncated';

/** A decoding failure, reported as a value: the decoder never throws on input. */
export interface FrameError {
  code: FrameErrorCode;
  message: string;
}

/** What one {@link FrameDecoder.push} produced: the frames completed by the chunk, then the error if any. */
export interface DecodeResult {
  frames: Frame[];
  error: FrameError | undefined;
}

/**
 * Encodes one frame from body parts (concatenated, so callers can append a MAC tag without an extra copy).
 * Throws a RangeError only on a programming error (a body too large for the 32-bit length field).
 */
export function encodeFrame(kind: FrameKind, ...parts: readonly Uint8Array[]): Buffer {
  let bodyLength = 0;
  for (const part of parts) bodyLength += part.length;
  if (bodyLength > 0xffff_ffff - 2) throw new RangeError('frame body too large');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength);
  frame.writeUInt32BE(bodyLength + 2, 0);
  frame[4] = PROTOCOL_VERSION;
  frame[5] = kind;
  let offset = FRAME_HEADER_BYTES;
  for (const part of parts) {
    frame.set(part, offset);
    offset += part.length;
  }
  return frame;
}

/**
 * Streaming decoder: feed it chunks cut anywhere, get whole frames back. Limits are checked from the header
 * alone, before any body byte is buffered, so a peer can make it hold at most `maxFrameBytes` of a partial frame.
 * After the first error the decoder is spent: further input is ignored and the same error is reported.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Total length (header included) of the frame being assembled, once its header was read. */
  #pendingFrameBytes = 0;
  #error: FrameError | undefined;

  constructor(options: { maxFrameBytes: number }) {
    this.#maxFrameBytes = options.maxFrameBytes;
  }

  /** Bytes held for a frame not yet complete. Never more than `maxFrameBytes`. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** The error that stopped decoding, if any. */
  get error(): FrameError | undefined {
    return this.#error;
  }

  push(chunk: Uint8Array): DecodeResult {
    const frames: Frame[] = [];
    if (this.#error) return { frames, error: this.#error };
    if (chunk.length === 0) return { frames, error: undefined };
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#pendingFrameBytes === 0) {
        const headerError = this.#checkHeader();
        if (headerError) return this.#fail(frames, headerError);
        if (this.#pendingFrameBytes === 0) break;
      }
      if (this.#buffered < this.#pendingFrameBytes) break;
      const bytes = this.#take(this.#pendingFrameBytes);
      this.#pendingFrameBytes = 0;
      frames.push({ kind: bytes[5] as FrameKind, body: bytes.subarray(FRAME_HEADER_BYTES) });
    }
    return { frames, error: undefined };
  }

  /** The stream ended: reports a frame cut short (a clean end between frames returns undefined). */
  end(): FrameError | undefined {
    if (this.#error) return this.#error;
    if (this.#buffered > 0) {
      this.#error = { code: 'truncated', message: `stream ended inside a frame (${this.#buffered} bytes pending)` };
      this.#release();
    }
    return this.#error;
  }

  /**
   * Validates as much of the next header as is buffered: length first (so a huge length is refused with only
   * four bytes read), then version, then kind. Sets `#pendingFrameBytes` once all six header bytes are valid.
   */
  #checkHeader(): FrameError | undefined {
    const available = Math.min(this.#buffered, FRAME_HEADER_BYTES);
    if (available < 4) return undefined;
    const header = this.#peek(available);
    const length = header.readUInt32BE(0);
    if (length < 2) return { code: 'malformed', message: `frame length ${length} is shorter than its header` };
    if (4 + length > this.#maxFrameBytes) {
      return { code: 'too-large', message: `frame of ${4 + length} bytes exceeds the limit of ${this.#maxFrameBytes}` };
    }
    if (available < 5) return undefined;
    const version = header[4]!;
    if (version !== PROTOCOL_VERSION) {
      return { code: 'bad-version', message: `protocol version ${version}, expected ${PROTOCOL_VERSION}` };
    }
    if (available < 6) return undefined;
    const kind = header[5]!;
    if (!isFrameKind(kind)) return { code: 'unknown-kind', message: `unknown frame kind ${kind}` };
    this.#pendingFrameBytes = 4 + length;
    return undefined;
  }

  #fail(frames: Frame[], error: FrameError): DecodeResult {
    this.#error = error;
    this.#release();
    return { frames, error };
  }

  #release(): void {
    this.#chunks = [];
    this.#buffered = 0;
    this.#pendingFrameBytes = 0;
  }

  /** The first `n` buffered bytes without consuming them (n <= 6, so copying is cheap). */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first;
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    for (const chunk of this.#chunks) {
      const take = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, take);
      offset += take;
      if (offset === n) break;
    }
    return out;
  }

  /** Consumes the first `n` buffered bytes; a view when they lie in one chunk, a copy otherwise. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, take);
      offset += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}
