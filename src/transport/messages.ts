/**
 * Bodies of the handshake and control frames (HELLO, AUTH, REJECT, RETIRE). Decoders return `undefined` on any
 * malformed input (wrong length, trailing bytes, out-of-range field) and never throw.
 * @module
 */
import type { TransportErrorReason } from '../errors.ts';

/** Random bytes each side contributes to a handshake: they make every session's keys unique. */
export const NONCE_BYTES = 32;
/** Random ID of one transport instance: tells a restarted peer from a live connection of the same process. */
export const INCARNATION_BYTES = 16;
/** Length of an AUTH proof (HMAC-SHA256). */
export const PROOF_BYTES = 32;
/** Longest cluster name / advertised address, in UTF-8 bytes (one length byte each). */
export const MAX_NAME_BYTES = 255;

/** Which end of a connection a HELLO comes from: bound into the transcript so a HELLO cannot be reflected. */
export type HandshakeRole = 'initiator' | 'responder';

/** HELLO flag: the sender has a secret and requires the peer to prove it. */
export const FLAG_AUTH = 0b01;
/** HELLO flag: the sender asks for AEAD encryption of every post-handshake frame. */
export const FLAG_ENCRYPT = 0b10;

/** Contents of a HELLO. */
export interface Hello {
  version: number;
  role: HandshakeRole;
  flags: number;
  nodeId: number;
  clusterSize: number;
  /** The largest frame the sender accepts; the other side keeps its frames within it. */
  maxFrameBytes: number;
  /**
   * The initiator's count of connections it dialed (0 in a responder's HELLO). Both ends of two connections
   * between the same pair of processes, dialed by the same side, agree that the higher count is the newer one.
   */
  dialSeq: number;
  incarnation: Uint8Array;
  nonce: Uint8Array;
  cluster: string;
  /** The sender's listen address as it reports it: informational, never dialed. */
  advertised: string;
}

const HELLO_FIXED_BYTES = 1 + 1 + 1 + 8 + 2 + 4 + 4 + INCARNATION_BYTES + NONCE_BYTES + 1 + 1;
/** Upper bound of an encoded HELLO body. */
export const MAX_HELLO_BYTES = HELLO_FIXED_BYTES + 2 * MAX_NAME_BYTES;

/** Encodes a HELLO body. Throws a RangeError on a programming error (a field out of range). */
export function encodeHello(hello: Hello): Buffer {
  const cluster = Buffer.from(hello.cluster, 'utf8');
  const advertised = Buffer.from(hello.advertised, 'utf8');
  if (cluster.length === 0 || cluster.length > MAX_NAME_BYTES || advertised.length > MAX_NAME_BYTES) {
    throw new RangeError('HELLO name field out of range');
  }
  if (hello.incarnation.length !== INCARNATION_BYTES || hello.nonce.length !== NONCE_BYTES) {
    throw new RangeError('HELLO random field of the wrong length');
  }
  const out = Buffer.alloc(HELLO_FIXED_BYTES + cluster.length + advertised.length);
  let o = 0;
  out[o++] = hello.version;
  out[o++] = hello.role === 'initiator' ? 0 : 1;
  out[o++] = hello.flags;
  out.writeBigUInt64BE(BigInt(hello.nodeId), o);
  o += 8;
  out.writeUInt16BE(hello.clusterSize, o);
  o += 2;
  out.writeUInt32BE(hello.maxFrameBytes, o);
  o += 4;
  out.writeUInt32BE(hello.dialSeq, o);
  o += 4;
  out.set(hello.incarnation, o);
  o += INCARNATION_BYTES;
  out.set(hello.nonce, o);
  o += NONCE_BYTES;
  out[o++] = cluster.length;
  out.set(cluster, o);
  o += cluster.length;
  out[o++] = advertised.length;
  out.set(advertised, o);
  return out;
}

/** Decodes a HELLO body; `undefined` when malformed. Semantic checks (version, cluster…) are the caller's. */
export function decodeHello(body: Uint8Array): Hello | undefined {
  if (body.length < HELLO_FIXED_BYTES) return undefined;
  const view = Buffer.from(body.buffer, body.byteOffset, body.length);
  let o = 0;
  const version = view[o++]!;
  const roleByte = view[o++]!;
  if (roleByte > 1) return undefined;
  const flags = view[o++]!;
  if ((flags & ~(FLAG_AUTH | FLAG_ENCRYPT)) !== 0) return undefined;
  const nodeIdBig = view.readBigUInt64BE(o);
  o += 8;
  if (nodeIdBig < 1n || nodeIdBig > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const clusterSize = view.readUInt16BE(o);
  o += 2;
  if (clusterSize < 1) return undefined;
  const maxFrameBytes = view.readUInt32BE(o);
  o += 4;
  const dialSeq = view.readUInt32BE(o);
  o += 4;
  const incarnation = Uint8Array.prototype.slice.call(view, o, o + INCARNATION_BYTES);
  o += INCARNATION_BYTES;
  const nonce = Uint8Array.prototype.slice.call(view, o, o + NONCE_BYTES);
  o += NONCE_BYTES;
  const clusterLength = view[o++]!;
  if (clusterLength === 0 || o + clusterLength + 1 > view.length) return undefined;
  const cluster = decodeUtf8(view.subarray(o, o + clusterLength));
  o += clusterLength;
  const advertisedLength = view[o++]!;
  if (o + advertisedLength !== view.length) return undefined;
  const advertised = decodeUtf8(view.subarray(o, o + advertisedLength));
  if (cluster === undefined || advertised === undefined) return undefined;
  return {
    version,
    role: roleByte === 0 ? 'initiator' : 'responder',
    flags,
    nodeId: Number(nodeIdBig),
    clusterSize,
    maxFrameBytes,
    dialSeq,
    incarnation,
    nonce,
    cluster,
    advertised,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Reason codes carried by REJECT and RETIRE bodies (one byte). The table is append-only: a code keeps its
 * meaning in every protocol version, and an unknown code reads as the generic `refused`.
 * `superseded` (0) is not an error: the connection lost a tie-break against another link to the same peer.
 */
export type CloseReason = TransportErrorReason | 'superseded';

const CODE_OF: ReadonlyMap<CloseReason, number> = new Map<CloseReason, number>([
  ['superseded', 0],
  ['refused', 1],
  ['bad-frame', 2],
  ['frame-too-large', 3],
  ['bad-version', 4],
  ['wrong-cluster', 5],
  ['auth-failed', 6],
  ['replay', 7],
  ['duplicate-id', 8],
  ['own-id', 9],
  ['cluster-full', 10],
  ['cluster-size-mismatch', 11],
  ['handshake-timeout', 12],
  ['too-many-connections', 13],
  ['idle-timeout', 14],
  ['write-buffer-full', 15],
]);
const REASON_OF: ReadonlyMap<number, CloseReason> = new Map([...CODE_OF].map(([reason, code]) => [code, reason]));

/** Encodes a REJECT or RETIRE body. Reasons without a code (local-only ones) go out as `refused`. */
export function encodeReason(reason: CloseReason): Buffer {
  return Buffer.of(CODE_OF.get(reason) ?? 1);
}

/** Decodes a REJECT or RETIRE body: `undefined` when malformed, `refused` for a code this version lacks. */
export function decodeReason(body: Uint8Array): CloseReason | undefined {
  if (body.length !== 1) return undefined;
  return REASON_OF.get(body[0]!) ?? 'refused';
}
