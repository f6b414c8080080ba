import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ConnectionsService } from '../connections/connections.service';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';

/**
 * What Meta's callbacks do to our data, for one provider at a time. Which id Meta puts in `user_id` is
 * not documented clearly, so a stored connection matches on either its subject id or its account id.
 * Both operations are idempotent: a replay finds nothing left to delete (and, for data deletion, the
 * answer it got the first time). Connection rows change only through the connections writer, inside the
 * same transaction as the rest of the request's work.
 */
export interface DeletionAnswer {
  url: string;
  confirmationCode: string;
}

export class WebhooksService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly connections: ConnectionsService,
    private readonly clock: Clock,
    private readonly publicUrl: string,
  ) {}

  /**
   * The person removed the app: drop every matching connection and its token. Only tokens issued before
   * the request was signed go: a replay (or a late delivery) never removes a connection the person made
   * again afterwards.
   */
  async deauthorize(provider: string, identity: string, issuedAt: number): Promise<number> {
    // issued_at has whole seconds: the whole second it names counts as "before".
    return this.connections.transaction((trx) =>
      this.connections.deleteByIdentity(trx, { provider, identity, issuedBefore: issuedAt + 1000 }, 'deauthorize'),
    );
  }

  /** Deletes all data of the person and records the request for its status page. */
  async requestDeletion(provider: string, signedRequest: string, identity: string): Promise<DeletionAnswer> {
    const requestHash = createHash('sha256').update(signedRequest).digest('hex');
    const existing = await this.findByHash(requestHash);
    if (existing) return this.answer(existing.confirmation_code);
    const now = this.clock.now();
    const code = randomBytes(18).toString('base64url');
    await this.connections.transaction(async (trx) => {
      const deleted = await this.connections.deleteByIdentity(trx, { provider, identity }, 'data_deletion', {
        removeUsersLeftEmpty: true,
      });
      await trx
        .insertInto('deletion_requests')
        .values({
          confirmation_code: code,
          request_hash: requestHash,
          status: 'completed',
          deleted_connections: deleted,
          requested_at: now,
          completed_at: now,
        })
        .onConflict((oc) => oc.column('request_hash').doNothing())
        .execute();
    });
    // A concurrent replay may have won the insert: answer with whatever is stored.
    const stored = await this.findByHash(requestHash);
    return this.answer(stored?.confirmation_code ?? code);
  }

  async deletionStatus(confirmationCode: string) {
    return this.db
      .selectFrom('deletion_requests')
      .select(['confirmation_code', 'status', 'deleted_connections', 'requested_at', 'completed_at'])
      .where('confirmation_code', '=', confirmationCode)
      .executeTakeFirst();
  }

  private findByHash(requestHash: string) {
    return this.db
      .selectFrom('deletion_requests')
      .select('confirmation_code')
      .where('request_hash', '=', requestHash)
      .executeTakeFirst();
  }

  /** The status URL is built from PUBLIC_URL, never from the request's Host header. */
  private answer(confirmationCode: string): DeletionAnswer {
    return { url: `${this.publicUrl}/data-deletion/${confirmationCode}`, confirmationCode };
  }
}
