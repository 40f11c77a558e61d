/**
 * Post-handshake framing. A channel seals outgoing frames and opens incoming ones; with a secret every frame
 * carries a 16-byte tag over (direction key, implicit 64-bit sequence number, version, kind, body), so a frame
 * that is forged, altered, reordered, dropped-then-continued or replayed (on this or any other connection)
 * fails to open.
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { encodeFrame, type Frame, type FrameKind, PROTOCOL_VERSION } from './frame.ts';

/** Bytes of the authentication tag appended to every sealed frame (truncated HMAC-SHA256, or the GCM tag). */
export const TAG_BYTES = 16;

/**
 * How many earlier sequence numbers a failed frame is re-checked against, only to tell a replay from a forgery
 * in the error reason (the connection is closed either way).
 */
const REPLAY_WINDOW = 32;

/** Outcome of {@link Channel.open}. */
export type OpenResult =
  | { ok: true; body: Uint8Array }
  | { ok: false; reason: 'auth-failed' | 'replay' | 'bad-frame'; message: string };

/** Seals and opens post-handshake frames of one connection. */
export interface Channel {
  /** `plain` (no secret), `mac` (authenticated) or `aead` (authenticated and encrypted). */
  readonly mode: 'plain' | 'mac' | 'aead';
  /** Bytes a frame carries beyond its body: header plus tag. */
  readonly overheadBytes: number;
  /** Returns the complete frame to write. */
  seal(kind: FrameKind, body: Uint8Array): Buffer;
  /** Checks and strips the tag of a received frame; must be called on frames in arrival order. */
  open(frame: Frame): OpenResult;
}

/** No secret: frames go out as they are. */
export class PlainChannel implements Channel {
  readonly mode = 'plain';
  readonly overheadBytes = 6;
  seal(kind: FrameKind, body: Uint8Array): Buffer {
    return encodeFrame(kind, body);
  }
  open(frame: Frame): OpenResult {
    return { ok: true, body: frame.body };
  }
}

/** Shared sequence bookkeeping of the keyed channels; keys live in private fields (never enumerable). */
abstract class KeyedChannel implements Channel {
  abstract readonly mode: 'mac' | 'aead';
  readonly overheadBytes = 6 + TAG_BYTES;
  readonly #sendKey: Buffer;
  readonly #receiveKey: Buffer;
  #sendSeq = 0;
  #receiveSeq = 0;

  constructor(sendKey: Uint8Array, receiveKey: Uint8Array) {
    this.#sendKey = Buffer.from(sendKey);
    this.#receiveKey = Buffer.from(receiveKey);
  }

  seal(kind: FrameKind, body: Uint8Array): Buffer {
    const seq = this.#sendSeq++;
    if (seq >= Number.MAX_SAFE_INTEGER) throw new RangeError('sequence number space exhausted');
    return this.sealWith(this.#sendKey, seq, kind, body);
  }

  open(frame: Frame): OpenResult {
    if (frame.body.length < TAG_BYTES) {
      return { ok: false, reason: 'bad-frame', message: 'sealed frame shorter than its tag' };
    }
    const body = this.openWith(this.#receiveKey, this.#receiveSeq, frame);
    if (body) {
      this.#receiveSeq++;
      return { ok: true, body };
    }
    const oldest = Math.max(0, this.#receiveSeq - REPLAY_WINDOW);
    for (let seq = this.#receiveSeq - 1; seq >= oldest; seq--) {
      if (this.openWith(this.#receiveKey, seq, frame)) {
        return {
          ok: false,
          reason: 'replay',
          message: `frame replayed (sequence ${seq}, expected ${this.#receiveSeq})`,
        };
      }
    }
    return { ok: false, reason: 'auth-failed', message: 'frame failed authentication' };
  }

  protected abstract sealWith(key: Buffer, seq: number, kind: FrameKind, body: Uint8Array): Buffer;
  protected abstract openWith(key: Buffer, seq: number, frame: Frame): Uint8Array | undefined;
}

/** Authenticated, not encrypted: tag = HMAC-SHA256(key, seq u64 BE || version || kind || body)[0..16]. */
export class MacChannel extends KeyedChannel {
  readonly mode = 'mac';

  protected sealWith(key: Buffer, seq: number, kind: FrameKind, body: Uint8Array): Buffer {
    return encodeFrame(kind, body, macTag(key, seq, kind, body));
  }

  protected openWith(key: Buffer, seq: number, frame: Frame): Uint8Array | undefined {
    const split = frame.body.length - TAG_BYTES;
    const body = frame.body.subarray(0, split);
    const tag = frame.body.subarray(split);
    return timingSafeEqual(macTag(key, seq, frame.kind, body), tag) ? body : undefined;
  }
}

/** Authenticated and encrypted: AES-256-GCM, IV = 4 zero bytes || seq u64 BE, AAD = version || kind. */
export class AeadChannel extends KeyedChannel {
  readonly mode = 'aead';

  protected sealWith(key: Buffer, seq: number, kind: FrameKind, body: Uint8Array): Buffer {
    const cipher = createCipheriv('aes-256-gcm', key, gcmIv(seq), { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.of(PROTOCOL_VERSION, kind));
    const head = cipher.update(body);
    const tail = cipher.final();
    return encodeFrame(kind, head, tail, cipher.getAuthTag());
  }

  protected openWith(key: Buffer, seq: number, frame: Frame): Uint8Array | undefined {
    const split = frame.body.length - TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', key, gcmIv(seq), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.of(PROTOCOL_VERSION, frame.kind));
    decipher.setAuthTag(frame.body.subarray(split));
    try {
      const head = decipher.update(frame.body.subarray(0, split));
      return Buffer.concat([head, decipher.final()]);
    } catch {
      return undefined;
    }
  }
}

function seqBytes(seq: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 0);
  out.writeUInt32BE(seq >>> 0, 4);
  return out;
}

function macTag(key: Buffer, seq: number, kind: FrameKind, body: Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(seqBytes(seq))
    .update(Buffer.of(PROTOCOL_VERSION, kind))
    .update(body)
    .digest()
    .subarray(0, TAG_BYTES);
}

function gcmIv(seq: number): Buffer {
  const iv = Buffer.alloc(12);
  seqBytes(seq).copy(iv, 4);
  return iv;
}
