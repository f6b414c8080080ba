import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { ConnectSessionsTable, Database } from '../db/schema';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';
import { returnUrlProblem } from './return-url';

/**
 * Connect links (connect sessions): a deployer's backend makes one for one of its users, sends the
 * person's browser to it, and the connect flow that starts there stores the connection for that user.
 *
 * A link is a URL under PUBLIC_URL carrying 256 random bits (`igcl_…`); only their SHA-256 is stored,
 * so a database dump holds no usable link. A link works until it expires or until a connect through it
 * completes: `useUp` runs inside the connect's own transaction as one conditional UPDATE, so of two
 * browsers finishing one link at once exactly one connect commits and the other rolls back.
 */
export const LINK_PREFIX = 'igcl_';
const SECRET_SHAPE = /^igcl_[A-Za-z0-9_-]{43}$/;
/** The path a link's secret follows under PUBLIC_URL. */
export const LINK_PATH = '/connect/';

type Db = Kysely<Database> | Transaction<Database>;

export interface ConnectLink {
  id: string;
  apiKeyId: string;
  /** The deployer's opaque id for its user. */
  endUserId: string;
  provider: string;
  returnUrl: string | null;
  createdAt: number;
  expiresAt: number;
  completedAt: number | null;
}

/** A link that can no longer be used: a connect through it completed, or it expired. */
export type GoneReason = 'used' | 'expired';

export class ConnectLinkGone extends AppError {
  constructor(
    readonly reason: GoneReason,
    readonly link: ConnectLink | undefined,
  ) {
    super('CONNECT_LINK_GONE', `the connect link was ${reason === 'used' ? 'already used' : 'expired'}`);
    this.name = 'ConnectLinkGone';
  }
}

export interface ConnectSessionsSettings {
  publicUrl: string;
  ttlMs: number;
  /** Origins besides PUBLIC_URL's that `return_url` may point at. */
  returnUrlOrigins: readonly string[];
}

export function hashLinkSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function looksLikeLinkSecret(value: string): boolean {
  return SECRET_SHAPE.test(value);
}

function toLink(row: ConnectSessionsTable): ConnectLink {
  return {
    id: row.id,
    apiKeyId: row.api_key_id,
    endUserId: row.end_user_id,
    provider: row.provider,
    returnUrl: row.return_url,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    completedAt: row.completed_at === null ? null : Number(row.completed_at),
  };
}

export class ConnectSessions {
  readonly allowedReturnOrigins: readonly string[];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly settings: ConnectSessionsSettings,
  ) {
    this.allowedReturnOrigins = [new URL(settings.publicUrl).origin, ...settings.returnUrlOrigins];
  }

  /** Why `value` cannot be a link's return URL; undefined when it can. */
  returnUrlProblem(value: string): string | undefined {
    return returnUrlProblem(value, this.allowedReturnOrigins);
  }

  /** Makes a link; the URL (with its secret) is known only to the caller from here on. */
  async create(input: {
    apiKeyId: string;
    endUserId: string;
    provider: string;
    returnUrl?: string | undefined;
  }): Promise<{ id: string; url: string; expiresAt: number }> {
    if (input.returnUrl !== undefined) {
      const problem = this.returnUrlProblem(input.returnUrl);
      if (problem) throw new AppError('BAD_REQUEST', `return_url ${problem}`);
    }
    const secret = `${LINK_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = `cs_${randomUUID().replace(/-/g, '')}`;
    const now = this.clock.now();
    const expiresAt = now + this.settings.ttlMs;
    await this.db
      .insertInto('connect_sessions')
      .values({
        id,
        secret_hash: hashLinkSecret(secret),
        api_key_id: input.apiKeyId,
        end_user_id: input.endUserId,
        provider: input.provider,
        return_url: input.returnUrl ?? null,
        created_at: now,
        expires_at: expiresAt,
        completed_at: null,
      })
      .execute();
    return { id, url: `${this.settings.publicUrl}${LINK_PATH}${secret}`, expiresAt };
  }

  /** The link a browser opened, with whether it can still be used; undefined for an unknown link. */
  async open(secret: string): Promise<{ link: ConnectLink; gone: GoneReason | null } | undefined> {
    if (!looksLikeLinkSecret(secret)) return undefined;
    const row = await this.db
      .selectFrom('connect_sessions')
      .selectAll()
      .where('secret_hash', '=', hashLinkSecret(secret))
      .executeTakeFirst();
    if (!row) return undefined;
    const link = toLink(row);
    return { link, gone: this.goneReason(link) };
  }

  async find(id: string): Promise<ConnectLink | undefined> {
    const row = await this.db.selectFrom('connect_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toLink(row);
  }

  goneReason(link: ConnectLink): GoneReason | null {
    if (link.completedAt !== null) return 'used';
    return link.expiresAt > this.clock.now() ? null : 'expired';
  }

  /**
   * Uses the link up, inside the transaction of the connect made through it: one conditional UPDATE,
   * so exactly one connect wins a link. Throws ConnectLinkGone otherwise, which rolls that connect back.
   */
  async useUp(trx: Db, id: string): Promise<void> {
    const now = this.clock.now();
    const result = await trx
      .updateTable('connect_sessions')
      .set({ completed_at: now })
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) return;
    const row = await trx.selectFrom('connect_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    const link = row && toLink(row);
    throw new ConnectLinkGone(link && link.completedAt !== null ? 'used' : 'expired', link);
  }
}
