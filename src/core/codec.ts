import type {
  Append,
  AppendAck,
  Commit,
  Heartbeat,
  Message,
  RefusalReason,
  Release,
  VoteReply,
  VoteRequest,
} from './messages.ts';

/**
 * Binary codec of protocol messages: one type byte, then unsigned LEB128 varints. Compact (a heartbeat is
 * ~15 bytes) and strict: the decoder accepts exactly one well-formed message and nothing else.
 * @module
 */

/** A payload that is not exactly one well-formed message. */
export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

const TYPE_HEARTBEAT = 1;
const TYPE_VOTE_REQUEST = 2;
const TYPE_VOTE_REPLY = 3;
const TYPE_RELEASE = 4;
const TYPE_APPEND = 5;
const TYPE_APPEND_ACK = 6;
const TYPE_COMMIT = 7;

/** Append flags byte: the entry is a catch-up (already committed). Other bits are refused. */
const APPEND_CATCH_UP = 1;

/**
 * Largest entry the codec accepts, whatever the options: 16 MiB, far above any frame the transport lets through
 * (`transport.maxFrameBytes` is at most that), so the real bound is the frame size; this one bounds what a decoder
 * could be asked to copy.
 */
export const MAX_APPEND_DATA_BYTES = 16 * 1024 * 1024;

const REASONS: readonly (RefusalReason | null)[] = [
  null,
  'not-ready',
  'bound',
  'stale-term',
  'prefer-lower',
  'released',
  'stopping',
];

/** More would not fit a safe integer; also bounds the work a hostile varint can cause. */
const MAX_VARINT_BYTES = 8;
/** A heartbeat lists at most this many peers; more than any sane cluster, and bounds allocation. */
export const MAX_SEES = 255;

/**
 * Largest term on the wire (2^52: no cluster gets there, even at a thousand elections a second for a hundred
 * thousand years). Every campaign takes the highest known term plus one, so a peer announcing a term near
 * `Number.MAX_SAFE_INTEGER` could otherwise push a node's next term past what can be encoded, and crash it.
 */
export const MAX_TERM = 2 ** 52;

class Writer {
  private readonly bytes: number[] = [];
  u8(value: number): this {
    this.bytes.push(value & 0xff);
    return this;
  }
  uint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new CodecError(`not a safe unsigned integer: ${value}`);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.bytes.push(rest);
    return this;
  }
  term(value: number): this {
    if (value > MAX_TERM) throw new CodecError(`term above ${MAX_TERM}: ${value}`);
    return this.uint(value);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
  /** The bytes written so far followed by `tail`, copied once (entries can be large; not byte by byte). */
  finishWith(tail: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.bytes.length + tail.length);
    out.set(this.bytes, 0);
    out.set(tail, this.bytes.length);
    return out;
  }
}

class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  u8(): number {
    const value = this.bytes[this.offset];
    if (value === undefined) throw new CodecError('truncated message');
    this.offset++;
    return value;
  }
  uint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new CodecError('non-canonical varint');
        if (!Number.isSafeInteger(value)) throw new CodecError('varint exceeds the safe integer range');
        return value;
      }
      scale *= 0x80;
    }
    throw new CodecError('varint too long');
  }
  term(): number {
    const value = this.uint();
    if (value > MAX_TERM) throw new CodecError('term out of range');
    return value;
  }
  /** An index: a positive safe integer (indexes start at 1 in every term). */
  index(): number {
    const value = this.uint();
    if (value === 0) throw new CodecError('index 0');
    return value;
  }
  /** `length` bytes, copied (the frame's buffer is not ours to keep). */
  take(length: number): Uint8Array {
    if (length > this.bytes.length - this.offset) throw new CodecError('truncated message');
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  end(): void {
    if (this.offset !== this.bytes.length) throw new CodecError('trailing bytes after message');
  }
}

const FLAG_READY = 1;
const FLAG_CAN_LEAD = 2;
const FLAG_LEAVING = 4;
/**
 * Health and leadership bits (issue 9). Each is set only when it differs from the default, so a default node sends
 * the same bytes as before and older members keep decoding its heartbeats.
 */
const FLAG_UNHEALTHY = 0x08;
const FLAG_VOTER_ONLY = 0x10;
const FLAG_NO_PREEMPT = 0x20;
const KNOWN_FLAGS = FLAG_READY | FLAG_CAN_LEAD | FLAG_LEAVING | FLAG_UNHEALTHY | FLAG_VOTER_ONLY | FLAG_NO_PREEMPT;

/** Encodes one message. Throws {@link CodecError} only on values no valid core can produce. */
export function encodeMessage(message: Message): Uint8Array {
  const w = new Writer();
  switch (message.type) {
    case 'heartbeat': {
      if (message.sees.length > MAX_SEES) throw new CodecError('too many peers in heartbeat');
      const flags =
        (message.ready ? FLAG_READY : 0) |
        (message.canLead ? FLAG_CAN_LEAD : 0) |
        (message.leaving ? FLAG_LEAVING : 0) |
        (message.healthy ? 0 : FLAG_UNHEALTHY) |
        (message.voterOnly ? FLAG_VOTER_ONLY : 0) |
        (message.preempt ? 0 : FLAG_NO_PREEMPT);
      w.u8(TYPE_HEARTBEAT).u8(flags).uint(message.incarnation).term(message.term).term(message.leaderTerm);
      w.u8(message.sees.length);
      for (const id of message.sees) w.uint(id);
      break;
    }
    case 'vote-request':
      w.u8(TYPE_VOTE_REQUEST).term(message.term).uint(message.incarnation).uint(message.seq);
      break;
    case 'vote-reply':
      w.u8(TYPE_VOTE_REPLY).term(message.term).uint(message.incarnation).uint(message.seq);
      w.u8(message.granted ? 1 : 0).u8(REASONS.indexOf(message.reason));
      w.term(message.highestTerm).uint(message.holder);
      break;
    case 'release':
      w.u8(TYPE_RELEASE).uint(message.incarnation).uint(message.seq);
      break;
    case 'append':
      if (message.index < 1) throw new CodecError('append index below 1');
      if (message.data.length > MAX_APPEND_DATA_BYTES) throw new CodecError('append data too large');
      w.u8(TYPE_APPEND)
        .term(message.term)
        .uint(message.incarnation)
        .uint(message.index)
        .u8(message.catchUp ? APPEND_CATCH_UP : 0);
      w.uint(message.data.length);
      return w.finishWith(message.data);
    case 'append-ack':
      w.u8(TYPE_APPEND_ACK).term(message.term).uint(message.incarnation).uint(message.confirmed).uint(message.missing);
      break;
    case 'commit':
      if (message.index < 1) throw new CodecError('commit index below 1');
      w.u8(TYPE_COMMIT).term(message.term).uint(message.incarnation).uint(message.index);
      break;
  }
  return w.finish();
}

/** Decodes exactly one message; throws {@link CodecError} on anything else (never another error type). */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  const type = r.u8();
  let message: Message;
  switch (type) {
    case TYPE_HEARTBEAT: {
      const flags = r.u8();
      if (flags & ~KNOWN_FLAGS) throw new CodecError('unknown heartbeat flags');
      const incarnation = r.uint();
      const term = r.term();
      const leaderTerm = r.term();
      const count = r.u8();
      const sees: number[] = [];
      for (let i = 0; i < count; i++) sees.push(r.uint());
      message = {
        type: 'heartbeat',
        incarnation,
        ready: (flags & FLAG_READY) !== 0,
        canLead: (flags & FLAG_CAN_LEAD) !== 0,
        leaving: (flags & FLAG_LEAVING) !== 0,
        healthy: (flags & FLAG_UNHEALTHY) === 0,
        voterOnly: (flags & FLAG_VOTER_ONLY) !== 0,
        preempt: (flags & FLAG_NO_PREEMPT) === 0,
        term,
        leaderTerm,
        sees,
      } satisfies Heartbeat;
      break;
    }
    case TYPE_VOTE_REQUEST:
      message = { type: 'vote-request', term: r.term(), incarnation: r.uint(), seq: r.uint() } satisfies VoteRequest;
      break;
    case TYPE_VOTE_REPLY: {
      const term = r.term();
      const incarnation = r.uint();
      const seq = r.uint();
      const granted = r.u8();
      if (granted > 1) throw new CodecError('bad granted flag');
      const reasonCode = r.u8();
      const reason = REASONS[reasonCode];
      if (reason === undefined) throw new CodecError('unknown refusal reason');
      message = {
        type: 'vote-reply',
        term,
        incarnation,
        seq,
        granted: granted === 1,
        reason,
        highestTerm: r.term(),
        holder: r.uint(),
      } satisfies VoteReply;
      break;
    }
    case TYPE_RELEASE:
      message = { type: 'release', incarnation: r.uint(), seq: r.uint() } satisfies Release;
      break;
    case TYPE_APPEND: {
      const term = r.term();
      const incarnation = r.uint();
      const index = r.index();
      const flags = r.u8();
      if (flags & ~APPEND_CATCH_UP) throw new CodecError('unknown append flags');
      const length = r.uint();
      if (length > MAX_APPEND_DATA_BYTES) throw new CodecError('append data too large');
      const data = r.take(length);
      const catchUp = (flags & APPEND_CATCH_UP) !== 0;
      message = { type: 'append', term, incarnation, index, catchUp, data } satisfies Append;
      break;
    }
    case TYPE_APPEND_ACK:
      message = {
        type: 'append-ack',
        term: r.term(),
        incarnation: r.uint(),
        confirmed: r.uint(),
        missing: r.uint(),
      } satisfies AppendAck;
      break;
    case TYPE_COMMIT:
      message = { type: 'commit', term: r.term(), incarnation: r.uint(), index: r.index() } satisfies Commit;
      break;
    default:
      throw new CodecError(`unknown message type ${type}`);
  }
  r.end();
  return message;
}
