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
  | { kind: 'error'; message: string };

/**
 * The port deliveries go out through: one POST, no redirects followed, an
 * answer or a timeout. Never throws for what the receiver does.
 */
export abstract class WebhookSender {
  abstract send(request: WebhookRequest): Promise<WebhookResult>;
}
