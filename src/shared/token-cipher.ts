import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Envelope for tokens at rest: AES-256-GCM, a fresh 96-bit nonce per encryption, and the key id stored
 * next to the ciphertext so keys rotate without downtime (the first key encrypts, every key decrypts).
 * The associated data binds a ciphertext to its row, so a ciphertext copied into another row fails.
 * Format (versioned so it can change): `v1.<nonce>.<ciphertext>.<tag>`, each part base64url.
 */
/** One key of the ring (TOKEN_ENCRYPTION_KEYS): an id stored beside each ciphertext, and 32 bytes. */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface SealedToken {
  keyId: string;
  ciphertext: string;
}

export class DecryptionError extends Error {
  readonly code = 'TOKEN_DECRYPTION_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

export class TokenCipher {
  private readonly keys: Map<string, Buffer>;
  private readonly current: EncryptionKey;

  constructor(keys: EncryptionKey[]) {
    const [first] = keys;
    if (!first) throw new Error('TokenCipher needs at least one key');
    this.current = first;
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  /** Every key id of the ring, the encrypting one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  seal(plaintext: string, associatedData: string): SealedToken {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    const parts = [nonce, body, tag].map((b) => b.toString('base64url'));
    return { keyId: this.current.id, ciphertext: `v1.${parts.join('.')}` };
  }

  open(sealed: SealedToken, associatedData: string): string {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new DecryptionError(`no key with id "${sealed.keyId}" is configured`);
    const [version, nonce, body, tag] = sealed.ciphertext.split('.');
    if (version !== 'v1' || !nonce || body === undefined || !tag) throw new DecryptionError('unknown envelope format');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionError('ciphertext failed authentication');
    }
  }
}

/** A short, non-reversible label for a token, safe to show on a page ("…3f9a1c"). */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}
