export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  /** The exact JSON body; it is what was signed. */
  body: string;
  timeoutMs: number;
}

export type WebhookResult =
  | { kind: 'response'; status: number; retryAfter: string | null }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string }
  /** Not sent: the URL's host is, or resolves to, an address webhooks may not go to. `reason` names host and address. */
  | { kind: 'refused'; reason: string };

/**
 * The port deliveries go out through: one POST, no redirects followed, an
 * answer or a timeout, or a refusal to connect where webhooks may not go.
 * Never throws for what the receiver does.
 */
export abstract class WebhookSender {
  abstract send(request: WebhookRequest): Promise<WebhookResult>;
}
