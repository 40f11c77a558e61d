/**
 * Handshake cryptography: transcript hash, proofs of the shared secret and per-direction session keys.
 * Everything is derived from the secret plus both HELLOs, so each connection gets keys no other connection uses.
 * @module
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { type HandshakeRole, PROOF_BYTES } from './messages.ts';

const LABEL_TRANSCRIPT = Buffer.from('leader-ip/1 transcript\0');
const LABEL_PROOF = {
  initiator: Buffer.from('leader-ip/1 proof initiator\0'),
  responder: Buffer.from('leader-ip/1 proof responder\0'),
};
const LABEL_KEYS = Buffer.from('leader-ip/1 session keys\0');

/** Bytes of each per-direction session key (HMAC-SHA256 key, or AES-256-GCM key). */
export const SESSION_KEY_BYTES = 32;

/**
 * SHA-256 over both HELLO bodies exactly as sent, length-prefixed. Binds the proofs and keys to every HELLO
 * field (IDs, nonces, roles, flags, cluster, sizes), so altering any of them in flight fails authentication.
 */
export function transcriptHash(helloInitiator: Uint8Array, helloResponder: Uint8Array): Buffer {
  const hash = createHash('sha256');
  hash.update(LABEL_TRANSCRIPT);
  hash.update(u32(helloInitiator.length));
  hash.update(helloInitiator);
  hash.update(u32(helloResponder.length));
  hash.update(helloResponder);
  return hash.digest();
}

/** HMAC-SHA256(secret, label(role) || transcript): the role label keeps one side's proof from passing as the other's. */
export function computeProof(secret: Uint8Array, role: HandshakeRole, transcript: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(LABEL_PROOF[role]).update(transcript).digest();
}

/** Constant-time check of a received proof. */
export function verifyProof(
  secret: Uint8Array,
  role: HandshakeRole,
  transcript: Uint8Array,
  proof: Uint8Array,
): boolean {
  if (proof.length !== PROOF_BYTES) return false;
  return timingSafeEqual(computeProof(secret, role, transcript), proof);
}

/** Keys for the two directions of one connection. */
export interface SessionKeys {
  initiatorToResponder: Buffer;
  responderToInitiator: Buffer;
}

/** HKDF-SHA256(ikm = secret, salt = nonceI || nonceR, info = label || transcript), split into two keys. */
export function deriveSessionKeys(
  secret: Uint8Array,
  nonceInitiator: Uint8Array,
  nonceResponder: Uint8Array,
  transcript: Uint8Array,
): SessionKeys {
  const salt = Buffer.concat([nonceInitiator, nonceResponder]);
  const info = Buffer.concat([LABEL_KEYS, transcript]);
  const okm = Buffer.from(hkdfSync('sha256', secret, salt, info, 2 * SESSION_KEY_BYTES));
  return {
    initiatorToResponder: okm.subarray(0, SESSION_KEY_BYTES),
    responderToInitiator: okm.subarray(SESSION_KEY_BYTES),
  };
}

function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value, 0);
  return out;
}
