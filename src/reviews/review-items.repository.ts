import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { SqlParams } from '../common/db/sql-params';
import { updateFields } from '../common/db/update-fields';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import { ReviewItemEntity, ReviewItemStatus } from './entities/review-item.entity';
import { itemIdSql } from './item-id';
import { riskFlagsSql } from './risk-flags';
import { RECENT_WINDOW_DAYS, recommendationSql, USAGE_WINDOW_DAYS, windowStart } from './usage-recommendation';

/** Memory the open's usage aggregate and sort may take before spilling to disk (SET LOCAL, this transaction only). */
export const SNAPSHOT_WORK_MEM = '128MB';

/** What a campaign snapshots: its credentials in scope, and what the risk flags need. */
export interface CampaignSnapshot {
  campaignId: string;
  openedAt: Date;
  environment: string | null;
  ownerIds: string[] | null;
  highRateLimitPerSecond: number;
  failedRotationCredentialIds: string[];
}

/**
 * The review_items table, one method per purpose. Credentials are read
 * through the inventory's credential_review_source view
 * (migrations/1795463000000-CredentialReadViews.ts) and their usage through
 * the enforcement module's credential_usage_daily view
 * (migrations/1796534811799-UsageDaily.ts), never their tables.
 */
@Injectable()
export class ReviewItemsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * One INSERT ... SELECT that snapshots every active credential in scope into
   * a pending item for the agent's owner, with its usage of the 30 and 90 days
   * before the open (one hash aggregate over the daily rollups of those 90 days),
   * the recommendation and the risk flags computed on the way.
   * Credentials committed after this statement's snapshot are not in it.
   * Returns how many items it wrote.
   */
  async snapshot(em: EntityManager, snapshot: CampaignSnapshot): Promise<number> {
    const params = new SqlParams();
    const campaignId = params.add(snapshot.campaignId);
    const openedAt = params.add(snapshot.openedAt);
    const now = `${openedAt}::timestamptz`;
    const flags = riskFlagsSql({
      now,
      highRateLimitPerSecond: `${params.add(snapshot.highRateLimitPerSecond)}::numeric`,
      failedRotationCredentialIds: `${params.add(snapshot.failedRotationCredentialIds)}::uuid[]`,
    });
    const recommendation = recommendationSql(now);
    const since30 = `${params.add(windowStart(snapshot.openedAt, RECENT_WINDOW_DAYS))}::timestamptz`;
    const since90 = `${params.add(windowStart(snapshot.openedAt, USAGE_WINDOW_DAYS))}::timestamptz`;
    const scope = [`s.status = 'active'`];
    if (snapshot.environment) scope.push(`s.environment = ${params.add(snapshot.environment)}`);
    if (snapshot.ownerIds) scope.push(`s.owner_id = ANY (${params.add(snapshot.ownerIds)}::uuid[])`);
    // A campaign narrowed to an environment or owners aggregates only their credentials' usage.
    // OFFSET 0 keeps the inner query from being flattened into the outer one, so each row's
    // scopes_used_90d is computed once, not once for every flag and recommendation that reads it.
    const usageScope =
      snapshot.environment || snapshot.ownerIds
        ? `AND h.credential_id IN (SELECT s.credential_id FROM credential_review_source s WHERE ${scope.join(' AND ')})`
        : '';
    // The usage aggregate holds a group per credential and scope (about 130,000 for 100,000
    // credentials, 60 MB): under the default work_mem it spills most of 90 days of rollups to
    // disk (over 500 MB at 8.7 M hourly rows). Raised for this transaction only; campaigns open rarely.
    await em.query(`SET LOCAL work_mem = '${SNAPSHOT_WORK_MEM}'`);
    const inserted = await em.queryRunner!.query(
      `INSERT INTO review_items (id, campaign_id, credential_id, client_id, agent_id, agent_name, owner_id, environment,
         scopes, rate_limit_requests, rate_limit_per_seconds, ip_allowlist, last_used_at, last_rotated_at,
         next_rotation_at, risk_flags, status, created_at,
         calls_30d, calls_90d, denied_90d, scopes_used_90d, recommendation, recommended_scopes, recommendation_reason)
       SELECT ${itemIdSql(`replace(${campaignId}::uuid::text, '-', '')`, 'row_number() OVER (ORDER BY c.owner_id, c.credential_id)')},
              ${campaignId}::uuid, c.credential_id, c.client_id, c.agent_id, c.agent_name, c.owner_id, c.environment,
              c.scopes, c.rate_limit_requests, c.rate_limit_per_seconds, c.ip_allowlist, c.last_used_at,
              c.last_rotated_at, c.next_rotation_at, ${flags}, 'pending', ${now},
              c.calls_30d, c.calls_90d, c.denied_90d, c.scopes_used_90d,
              ${recommendation.decision}, ${recommendation.scopes}, ${recommendation.reason}
         FROM (SELECT s.*, coalesce(u.calls_30d, 0) AS calls_30d, coalesce(u.calls_90d, 0) AS calls_90d,
                      coalesce(u.denied_90d, 0) AS denied_90d,
                      ARRAY(SELECT g FROM unnest(s.scopes) AS g WHERE g = ANY (u.scopes_used) ORDER BY g) AS scopes_used_90d
                 FROM credential_review_source s
                 LEFT JOIN (
                   SELECT credential_id, sum(calls_30d) AS calls_30d, sum(calls_90d) AS calls_90d, sum(denied_90d) AS denied_90d,
                          array_agg(scope) FILTER (WHERE calls_90d > 0 AND scope <> '') AS scopes_used
                     FROM (SELECT h.credential_id, h.scope,
                                  sum(h.allowed_calls) FILTER (WHERE h.day >= ${since30}) AS calls_30d,
                                  sum(h.allowed_calls) AS calls_90d, sum(h.denied_calls) AS denied_90d
                             FROM credential_usage_daily h
                            WHERE h.day >= ${since90} AND h.day <= ${now} ${usageScope}
                            GROUP BY h.credential_id, h.scope) per_scope
                    GROUP BY credential_id) u ON u.credential_id = s.credential_id
                WHERE ${scope.join(' AND ')}
               OFFSET 0) c`,
      params.values,
      true,
    );
    return Number(inserted.affected ?? 0);
  }

  /** Refreshes the planner's statistics after a large campaign changed the table at a stroke. */
  async analyze(): Promise<void> {
    await this.dataSource.query('ANALYZE review_items');
  }

  /** Items of a campaign by owner and status. */
  async countsByOwner(em: EntityManager, campaignId: string): Promise<Array<{ ownerId: string; status: ReviewItemStatus; count: number }>> {
    const rows: Array<{ owner_id: string; status: ReviewItemStatus; n: string }> = await em.query(
      'SELECT owner_id, status, count(*) AS n FROM review_items WHERE campaign_id = $1 GROUP BY owner_id, status',
      [campaignId],
    );
    return rows.map((row) => ({ ownerId: row.owner_id, status: row.status, count: Number(row.n) }));
  }

  /** A campaign's items, newest first, by owner and status if asked. */
  list(query: {
    campaignId: string;
    ownerId?: string;
    status?: ReviewItemStatus;
    limit?: number;
    cursor?: string;
  }): Promise<Page<ReviewItemEntity>> {
    const qb = this.dataSource
      .getRepository(ReviewItemEntity)
      .createQueryBuilder('i')
      .where('i.campaign_id = :campaignId', { campaignId: query.campaignId });
    if (query.ownerId) qb.andWhere('i.owner_id = :ownerId', { ownerId: query.ownerId });
    if (query.status) qb.andWhere('i.status = :status', { status: query.status });
    return fetchTimePage(qb, 'i', query, (row) => row);
  }

  /**
   * An owner's pending items across open campaigns, each with its campaign.
   * Only open campaigns have pending items; starting from them lets the query
   * use the (campaign, owner, status) index.
   */
  pendingOfOwner(ownerId: string | undefined, query: { limit?: number; cursor?: string }): Promise<Page<ReviewItemEntity>> {
    const qb = this.dataSource
      .getRepository(ReviewItemEntity)
      .createQueryBuilder('i')
      .innerJoinAndSelect('i.campaign', 'c')
      .where(`c.status = 'open'`)
      .andWhere('i.owner_id = :ownerId', { ownerId })
      .andWhere(`i.status = 'pending'`);
    return fetchTimePage(qb, 'i', query, (row) => row);
  }

  /** The credentials of a campaign's pending items. */
  async pendingCredentialIds(em: EntityManager, campaignId: string): Promise<string[]> {
    const rows: Array<{ credential_id: string }> = await em.query(
      `SELECT credential_id FROM review_items WHERE campaign_id = $1 AND status = 'pending'`,
      [campaignId],
    );
    return rows.map((row) => row.credential_id);
  }

  /**
   * Expires a campaign's pending items with `revoke`: those whose credential
   * this close revoked say so, the others were revoked elsewhere meanwhile.
   */
  async expireRevoked(em: EntityManager, campaignId: string, at: Date, revokedIds: string[]): Promise<number> {
    const updated = await em.queryRunner!.query(
      `UPDATE review_items
          SET status = 'expired', scopes_after = '{}', resolved_at = $2,
              outcome = CASE WHEN credential_id = ANY ($3::uuid[]) THEN 'revoked_on_expiry' ELSE 'revoked_elsewhere' END
        WHERE campaign_id = $1 AND status = 'pending'`,
      [campaignId, at, revokedIds],
      true,
    );
    return Number(updated.affected ?? 0);
  }

  /**
   * Expires a campaign's pending items with `keep`, in one UPDATE ... FROM the
   * inventory's view: access stays, with the credential's scopes as they are
   * now, unless it was revoked elsewhere meanwhile.
   */
  async expireKept(em: EntityManager, campaignId: string, at: Date): Promise<number> {
    const updated = await em.queryRunner!.query(
      `UPDATE review_items i
          SET status = 'expired', resolved_at = $2,
              outcome = CASE WHEN c.status = 'revoked' THEN 'revoked_elsewhere' ELSE 'kept_on_expiry' END,
              scopes_after = CASE WHEN c.status = 'revoked' THEN '{}'::text[] ELSE c.scopes END
         FROM credential_review_source c
        WHERE c.credential_id = i.credential_id AND i.campaign_id = $1 AND i.status = 'pending'`,
      [campaignId, at],
      true,
    );
    return Number(updated.affected ?? 0);
  }

  lockForDecision(em: EntityManager, campaignId: string, itemId: string): Promise<ReviewItemEntity | null> {
    return em.findOne(ReviewItemEntity, { where: { id: itemId, campaignId }, lock: { mode: 'pessimistic_write' } });
  }

  /** Several items of a campaign, locked in id order (so two bulk calls never wait on each other in a cycle). */
  lockManyForDecision(em: EntityManager, campaignId: string, itemIds: string[]): Promise<ReviewItemEntity[]> {
    return em
      .getRepository(ReviewItemEntity)
      .createQueryBuilder('i')
      .where('i.campaign_id = :campaignId AND i.id = ANY (:itemIds::uuid[])', { campaignId, itemIds })
      .orderBy('i.id', 'ASC')
      .setLock('pessimistic_write')
      .getMany();
  }

  /** A campaign's pending items (of one owner, or all), locked in id order. */
  lockPendingForDecision(em: EntityManager, campaignId: string, ownerId: string | null): Promise<ReviewItemEntity[]> {
    const qb = em
      .getRepository(ReviewItemEntity)
      .createQueryBuilder('i')
      .where(`i.campaign_id = :campaignId AND i.status = 'pending'`, { campaignId });
    if (ownerId) qb.andWhere('i.owner_id = :ownerId', { ownerId });
    return qb.orderBy('i.id', 'ASC').setLock('pessimistic_write').getMany();
  }

  /** Records how an item was resolved (decided, or found revoked elsewhere). */
  async saveResolution(em: EntityManager, item: ReviewItemEntity): Promise<void> {
    await updateFields(em, ReviewItemEntity, item, [
      'status',
      'decision',
      'decidedBy',
      'decidedAt',
      'comment',
      'outcome',
      'scopesAfter',
      'resolvedAt',
    ]);
  }

  /** An owner's items of a campaign, by id (what a sign-off attests). */
  ofOwner(em: EntityManager, campaignId: string, ownerId: string): Promise<ReviewItemEntity[]> {
    return em.find(ReviewItemEntity, { where: { campaignId, ownerId }, order: { id: 'ASC' } });
  }
}
