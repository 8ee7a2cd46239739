import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject, ResponseObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

/** The tags of the document, one per feature area, in the order a reader meets them. */
const TAGS: Array<[name: string, description: string]> = [
  ['tokens', 'Bearer tokens and their roles (auth module)'],
  ['owners', 'Teams and people who own agents (inventory module)'],
  ['products', 'Products and the operations their scopes grant (inventory module)'],
  ['agents', 'AI agents, each owned by one owner (inventory module)'],
  ['credentials', 'Credential inventory: issue, change, approve, claim (inventory module)'],
  ['rotation', 'Secret rotation and its dead letters (rotation module)'],
  ['revocation', 'Revocation of credentials and agents, pushed to gateways (revocation module)'],
  ['gateways', 'Gateways and the signed webhook deliveries they receive (gateways module)'],
  ['enforcement', 'Key verification and forward-auth for gateways, rate limits and usage (enforcement module)'],
  ['usage', 'Usage reported by gateways, per-call records and the usage view of a credential (usage module)'],
  ['reviews', 'Access-review campaigns, schedules and decisions (reviews module)'],
  ['leaks', 'Leaked secrets reported by people, GitHub secret scanning and GitLab token revocation (leaks module)'],
  ['audit', 'The hash-chained audit log (audit module)'],
  ['operations', 'Liveness, readiness and metrics; no token (health module)'],
  ['console', 'Sign-in to the web console at /console: a session cookie that stands for an API token (console module)'],
];

/**
 * The OpenAPI 3.0 document of the app, built from the controllers' decorators.
 * The app serves it at /docs-json (app.setup.ts), and `npm run lint` lints the
 * same document (scripts/openapi-document.ts, redocly.yaml).
 */
export function createApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Agent credential lifecycle service')
    .setDescription('Inventory, rotation, revocation and access reviews for AI agent credentials.')
    .setVersion('1')
    // Paths start at /v1: the server is the origin that serves this document.
    .addServer('/', 'The origin serving this document')
    .addBearerAuth()
    .addCookieAuth(
      'agc_session',
      { type: 'apiKey', in: 'cookie', description: 'Console session (POST /console/session)' },
      'consoleSession',
    )
    // GitHub's secret scanning partner alerts carry no token: GitHub signs the raw body (src/leaks).
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'Github-Public-Key-Signature',
        description: 'Base64 DER ECDSA P-256 SHA-256 signature of the raw body by the key named in Github-Public-Key-Identifier',
      },
      'githubSignature',
    )
    // /v1/authz: the gateway's own token rides beside the agent's key, which takes Authorization.
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Gateway-Token' }, 'gatewayToken');
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const config = builder.build();
  // Not open source (package.json: UNLICENSED): the owner's own terms, which have no public URL (DocumentBuilder's
  // setLicense always writes one).
  config.info.license = { name: 'Proprietary' };
  const document = SwaggerModule.createDocument(app, config);
  typeNullableReferences(document);
  addRequestIdHeader(document);
  return document;
}

/**
 * Every answer carries `x-request-id` (app.setup.ts sets it on every request,
 * src/common/http/request-id.ts chooses it): say so once, on every response.
 */
function addRequestIdHeader(document: OpenAPIObject): void {
  document.components = {
    ...document.components,
    headers: {
      ...document.components?.headers,
      RequestId: {
        description: "The request's id: its own x-request-id when that is a sane token (1-128 of A-Z a-z 0-9 . _ : -), else a new UUID",
        schema: { type: 'string' },
      },
    },
  };
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as OperationObject[]) {
      for (const response of Object.values(operation.responses) as ResponseObject[]) {
        response.headers = { 'x-request-id': { $ref: '#/components/headers/RequestId' }, ...response.headers };
      }
    }
  }
}

/**
 * OpenAPI 3.0 ignores `nullable` unless `type` stands beside it. For a nullable
 * property of a DTO type (`@ApiProperty({ type: PendingChangeDto, nullable: true })`)
 * @nestjs/swagger writes `{ nullable: true, allOf: [{ $ref }] }` and drops any
 * type given: every referenced schema is a DTO class, so the type is `object`.
 */
function typeNullableReferences(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(typeNullableReferences);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  const references = schema.allOf ?? schema.oneOf ?? schema.anyOf;
  if (
    schema.nullable === true &&
    schema.type === undefined &&
    Array.isArray(references) &&
    references.every((r: { $ref?: unknown }) => r.$ref)
  ) {
    schema.type = 'object';
  }
  Object.values(schema).forEach(typeNullableReferences);
}
