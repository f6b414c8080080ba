import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/database';
import type { Clock } from '../shared/clock';

/**
 * What Meta's callbacks do to our data. Which id Meta puts in `user_id` is not documented clearly, so a
 * stored connection matches on either its app-scoped id or its Instagram professional account id.
 * Both operations are idempotent: a replay finds nothing left to delete (and, for data deletion, the
 * answer it got the first time).
 */
export interface DeletionAnswer {
  url: string;
  confirmationCode: string;
}

export class WebhooksService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly publicUrl: string,
    private readonly provider: string,
  ) {}

  /**
   * The person removed the app on Instagram: drop every matching connection and its token. Only tokens
   * issued before the request was signed go: a replay (or a late delivery) never removes a connection the
   * person made again afterwards.
   */
  async deauthorize(instagramId: string, issuedAt: number): Promise<number> {
    return this.db
      .transaction()
      .execute((trx) => this.deleteConnections(trx, instagramId, issuedAt).then((r) => r.deleted));
  }

  /** Deletes all data of the Instagram user and records the request for its status page. */
  async requestDeletion(signedRequest: string, instagramId: string): Promise<DeletionAnswer> {
    const requestHash = createHash('sha256').update(signedRequest).digest('hex');
    const existing = await this.findByHash(requestHash);
    if (existing) return this.answer(existing.confirmation_code);
    const now = this.clock.now();
    const code = randomBytes(18).toString('base64url');
    await this.db.transaction().execute(async (trx) => {
      const { deleted, userIds } = await this.deleteConnections(trx, instagramId);
      // A user is only the owner of connections: with none left, nothing of them should remain.
      for (const userId of userIds) {
        const remaining = await trx
          .selectFrom('connections')
          .select('id')
          .where('user_id', '=', userId)
          .executeTakeFirst();
        if (!remaining) await trx.deleteFrom('users').where('id', '=', userId).execute();
      }
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

  private async deleteConnections(trx: Transaction<Database>, instagramId: string, issuedBefore?: number) {
    const matches = await trx
      .selectFrom('connections')
      .select(['id', 'user_id'])
      .where('provider', '=', this.provider)
      .where((eb) => eb.or([eb('ig_user_id', '=', instagramId), eb('app_scoped_id', '=', instagramId)]))
      // issued_at has whole seconds: the whole second it names counts as "before".
      .$if(issuedBefore !== undefined, (q) => q.where('token_issued_at', '<', (issuedBefore as number) + 1000))
      .execute();
    if (matches.length > 0) {
      await trx
        .deleteFrom('connections')
        .where(
          'id',
          'in',
          matches.map((m) => m.id),
        )
        .execute();
    }
    return { deleted: matches.length, userIds: [...new Set(matches.map((m) => m.user_id))] };
  }
}
