import { type SealedToken, type TokenCipher, tokenFingerprint } from '../shared/token-cipher';

/**
 * The one place where connection tokens are sealed and opened (ADR 0003). A ciphertext is bound to its
 * row by the associated data `connection:<id>`: copied into another row, it fails to open.
 */
export interface SealedColumns {
  token_ciphertext: string;
  token_key_id: string;
  token_fingerprint: string;
}

export function tokenAad(connectionId: string): string {
  return `connection:${connectionId}`;
}

export class TokenVault {
  constructor(private readonly cipher: TokenCipher) {}

  get currentKeyId(): string {
    return this.cipher.currentKeyId;
  }

  get keyIds(): string[] {
    return this.cipher.keyIds;
  }

  seal(connectionId: string, accessToken: string): SealedColumns {
    const sealed = this.cipher.seal(accessToken, tokenAad(connectionId));
    return {
      token_ciphertext: sealed.ciphertext,
      token_key_id: sealed.keyId,
      token_fingerprint: tokenFingerprint(accessToken),
    };
  }

  /** Throws DecryptionError when the key is missing from the ring or the ciphertext was tampered with. */
  open(connectionId: string, sealed: SealedToken): string {
    return this.cipher.open(sealed, tokenAad(connectionId));
  }

  /** Tokens waiting in a pending choice (pending-choices.ts), bound to that row. */
  sealChoice(choiceId: string, payload: string): SealedToken {
    return this.cipher.seal(payload, `choice:${choiceId}`);
  }

  openChoice(choiceId: string, sealed: SealedToken): string {
    return this.cipher.open(sealed, `choice:${choiceId}`);
  }
}
