import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';

import { MetricsService } from '../common/metrics/metrics.service';

/** Review metrics on the application's registry: how long opening takes, and what owners decide. */
@Injectable()
export class ReviewMetrics {
  readonly campaignOpenSeconds: Histogram;
  readonly decisions: Counter<'decision'>;

  constructor(metrics: MetricsService) {
    this.campaignOpenSeconds = metrics.histogram(
      'review_campaign_open_seconds',
      'Time to open a campaign (snapshot and flag every credential in scope)',
      [],
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.decisions = metrics.counter('review_decisions_total', 'Review item decisions carried out, by decision', ['decision']);
  }
}
