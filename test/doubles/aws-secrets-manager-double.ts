import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import { DoubleResponse, FaultStatus, HttpDouble, RecordedCall } from './http-double';

/**
 * An AWS Secrets Manager double speaking the JSON 1.1 protocol described in
 * docs/protocols.md "AWS Secrets Manager":
 * `POST /` with `X-Amz-Target: secretsmanager.<Operation>`, errors as HTTP 400
 * `{"__type","Message"}` (500 InternalServiceError for server faults),
 * ClientRequestToken idempotency, the staging-label rules (each label on one
 * version; AWSPREVIOUS follows AWSCURRENT; moving a label held elsewhere must
 * name that version), scheduled deletion refusing all but Describe/Restore,
 * epoch-second timestamps and `arn:aws:secretsmanager:...:secret:<name>-XXXXXX` ARNs.
 * SigV4 is not verified, but a request without an Authorization header is refused.
 */

interface SecretVersion {
  value: string;
  stages: Set<string>;
  createdDate: number;
}

interface SecretRecord {
  arn: string;
  name: string;
  description?: string;
  tags: Map<string, string>;
  createdDate: number;
  lastChangedDate: number;
  deletedDate?: number;
  /** In creation order. */
  versions: Map<string, SecretVersion>;
}

export interface AwsDoubleOptions {
  region?: string;
  accountId?: string;
}

type Input = Record<string, unknown>;

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";
const NOT_FOUND = "Secrets Manager can't find the specified secret.";
/** Secrets Manager keeps at most this many versions, dropping the oldest deprecated ones. */
const MAX_VERSIONS = 100;

/** The Secrets Manager operations the double answers. */
const OPERATIONS = [
  'CreateSecret',
  'PutSecretValue',
  'GetSecretValue',
  'DescribeSecret',
  'UpdateSecretVersionStage',
  'DeleteSecret',
  'RestoreSecret',
  'TagResource',
  'ListSecrets',
  'ListSecretVersionIds',
] as const;
type Operation = (typeof OPERATIONS)[number];

export class AwsSecretsManagerDouble extends HttpDouble {
  readonly region: string;
  readonly accountId: string;
  private readonly secrets = new Map<string, SecretRecord>();

  constructor(options: AwsDoubleOptions = {}) {
    super();
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
  }

  // ---- test controls -------------------------------------------------------

  /** Names of secrets that exist (including those scheduled for deletion). */
  names(): string[] {
    return [...this.secrets.keys()];
  }

  secret(name: string): Readonly<SecretRecord> | undefined {
    return this.secrets.get(name);
  }

  /** The recovery window has passed for every secret scheduled for deletion. */
  purgeScheduledDeletions(): void {
    for (const [name, s] of this.secrets) if (s.deletedDate !== undefined) this.secrets.delete(name);
  }

  // ---- protocol ------------------------------------------------------------

  protected operationOf(req: IncomingMessage): string {
    return String(req.headers['x-amz-target'] ?? '');
  }

  protected badJson(): DoubleResponse {
    return awsError(new AwsError('SerializationException', 'Start of structure or map found where not expected.'));
  }

  protected faultResponse(status: FaultStatus, type: string | undefined): DoubleResponse {
    if (status >= 500) return awsError(new AwsError(type ?? 'InternalServiceError', 'An error occurred on the server side.', status));
    if (status === 429) return awsError(new AwsError(type ?? 'ThrottlingException', 'Rate exceeded', 429));
    return awsError(new AwsError(type ?? 'ThrottlingException', 'Rate exceeded', status));
  }

  protected handle(call: RecordedCall, req: IncomingMessage): DoubleResponse {
    try {
      if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://double').pathname !== '/') {
        throw new AwsError('UnknownOperationException', 'Unknown operation');
      }
      if (!req.headers.authorization) throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      const target = call.operation;
      if (!target.startsWith('secretsmanager.')) throw new AwsError('UnknownOperationException', 'Unknown operation');
      const contentType = String(req.headers['content-type'] ?? '');
      if (!contentType.startsWith('application/x-amz-json-1.1')) {
        throw new AwsError('UnknownOperationException', 'Unsupported content type');
      }
      const input = (call.body ?? {}) as Input;
      const output = this.dispatch(target.slice('secretsmanager.'.length), input);
      return {
        status: 200,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() },
        body: output,
      };
    } catch (error) {
      if (error instanceof AwsError) return awsError(error);
      throw error;
    }
  }

  /** Each operation is answered by the method of its name (`CreateSecret`: `createSecret`). */
  private dispatch(operation: string, input: Input): Input {
    if (!(OPERATIONS as readonly string[]).includes(operation)) {
      throw new AwsError('UnknownOperationException', `Unknown operation ${operation}`);
    }
    const method = (operation.charAt(0).toLowerCase() + operation.slice(1)) as Uncapitalize<Operation>;
    return this[method](input);
  }

  private createSecret(input: Input): Input {
    const name = requiredString(input, 'Name');
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) throw new AwsError('InvalidParameterException', 'Invalid name.');
    const token = optionalToken(input);
    const value = optionalString(input, 'SecretString');
    const existing = this.secrets.get(name);
    if (existing?.deletedDate !== undefined) {
      throw new AwsError(
        'InvalidRequestException',
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      );
    }
    if (existing) {
      // A retry of the same create (same token, same value) is ignored; anything else collides.
      const same = token !== undefined && value !== undefined && existing.versions.get(token)?.value === value;
      if (!same) throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      return { ARN: existing.arn, Name: name, VersionId: token };
    }
    const now = epoch();
    const secret: SecretRecord = {
      arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${suffix()}`,
      name,
      description: optionalString(input, 'Description'),
      tags: new Map(tagList(input.Tags).map((t) => [t.Key, t.Value])),
      createdDate: now,
      lastChangedDate: now,
      versions: new Map(),
    };
    this.secrets.set(name, secret);
    if (value === undefined) return { ARN: secret.arn, Name: name };
    const versionId = token ?? randomUUID();
    secret.versions.set(versionId, { value, stages: new Set(['AWSCURRENT']), createdDate: now });
    return { ARN: secret.arn, Name: name, VersionId: versionId };
  }

  private putSecretValue(input: Input): Input {
    const secret = this.live(input);
    const value = optionalString(input, 'SecretString');
    if (value === undefined) throw new AwsError('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
    const versionId = optionalToken(input) ?? randomUUID();
    const existing = secret.versions.get(versionId);
    if (existing) {
      if (existing.value !== value) {
        throw new AwsError('ResourceExistsException', "You can't modify an existing version, you can only create a new version.");
      }
      return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...existing.stages] };
    }
    const stages = input.VersionStages === undefined ? ['AWSCURRENT'] : stageList(input.VersionStages);
    const now = epoch();
    secret.versions.set(versionId, { value, stages: new Set(), createdDate: now });
    for (const label of stages) this.attach(secret, label, versionId);
    secret.lastChangedDate = now;
    this.dropOldDeprecated(secret);
    return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: stages };
  }

  private getSecretValue(input: Input): Input {
    const secret = this.live(input);
    const versionId = optionalString(input, 'VersionId');
    const stage = optionalString(input, 'VersionStage');
    let id: string | undefined;
    if (versionId !== undefined) {
      if (!secret.versions.has(versionId)) {
        throw new AwsError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
        );
      }
      id = versionId;
      if (stage !== undefined && !secret.versions.get(id)!.stages.has(stage)) {
        throw new AwsError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
        );
      }
    } else {
      const label = stage ?? 'AWSCURRENT';
      id = this.holder(secret, label);
      if (!id)
        throw new AwsError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for staging label: ${label}`,
        );
    }
    const version = secret.versions.get(id)!;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: id,
      SecretString: version.value,
      VersionStages: [...version.stages],
      CreatedDate: version.createdDate,
    };
  }

  private describeSecret(input: Input): Input {
    const secret = this.find(input);
    const versionIdsToStages: Record<string, string[]> = {};
    for (const [id, v] of secret.versions) if (v.stages.size > 0) versionIdsToStages[id] = [...v.stages];
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description ? { Description: secret.description } : {}),
      RotationEnabled: false,
      LastChangedDate: secret.lastChangedDate,
      CreatedDate: secret.createdDate,
      ...(secret.deletedDate !== undefined ? { DeletedDate: secret.deletedDate } : {}),
      Tags: [...secret.tags].map(([Key, Value]) => ({ Key, Value })),
      VersionIdsToStages: versionIdsToStages,
    };
  }

  private updateSecretVersionStage(input: Input): Input {
    const secret = this.live(input);
    const label = requiredString(input, 'VersionStage');
    const moveTo = optionalString(input, 'MoveToVersionId');
    const removeFrom = optionalString(input, 'RemoveFromVersionId');
    if (moveTo === undefined && removeFrom === undefined) {
      throw new AwsError('InvalidParameterException', 'You must specify MoveToVersionId, RemoveFromVersionId, or both.');
    }
    const holder = this.holder(secret, label);
    if (moveTo !== undefined) {
      if (!secret.versions.has(moveTo)) {
        throw new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret version: ${moveTo}`);
      }
      if (holder !== moveTo) {
        if (holder !== undefined && removeFrom !== holder) {
          throw new AwsError(
            'InvalidParameterException',
            `The parameter RemoveFromVersionId can't be empty. Staging label ${label} is currently attached to version ${holder}, so you must explicitly reference that version in RemoveFromVersionId.`,
          );
        }
        this.attach(secret, label, moveTo);
        secret.lastChangedDate = epoch();
      }
    } else {
      if (removeFrom === undefined || holder !== removeFrom) {
        throw new AwsError('InvalidParameterException', `Staging label ${label} is not attached to version ${removeFrom}.`);
      }
      if (label === 'AWSCURRENT') {
        throw new AwsError(
          'InvalidParameterException',
          'You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.',
        );
      }
      secret.versions.get(removeFrom)!.stages.delete(label);
      secret.lastChangedDate = epoch();
    }
    return { ARN: secret.arn, Name: secret.name };
  }

  private deleteSecret(input: Input): Input {
    const secret = this.live(input);
    const force = input.ForceDeleteWithoutRecovery;
    const window = input.RecoveryWindowInDays;
    if (force === true && window !== undefined) {
      throw new AwsError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    const now = epoch();
    if (force === true) {
      this.secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: now };
    }
    const days = window === undefined ? 30 : window;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
      throw new AwsError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    }
    secret.deletedDate = now;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: now + days * 86_400 };
  }

  private restoreSecret(input: Input): Input {
    const secret = this.find(input);
    delete secret.deletedDate;
    return { ARN: secret.arn, Name: secret.name };
  }

  private tagResource(input: Input): Input {
    const secret = this.live(input);
    for (const t of tagList(input.Tags)) secret.tags.set(t.Key, t.Value);
    return {};
  }

  private listSecrets(input: Input): Input {
    const max = input.MaxResults === undefined ? 100 : input.MaxResults;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100) {
      throw new AwsError('InvalidParameterException', 'MaxResults must be between 1 and 100.');
    }
    const start = input.NextToken === undefined ? 0 : Number(Buffer.from(String(input.NextToken), 'base64').toString());
    const all = [...this.secrets.values()].filter((s) => s.deletedDate === undefined || input.IncludePlannedDeletion === true);
    const page = all.slice(start, start + max);
    return {
      SecretList: page.map((s) => ({
        ARN: s.arn,
        Name: s.name,
        CreatedDate: s.createdDate,
        LastChangedDate: s.lastChangedDate,
        Tags: [...s.tags].map(([Key, Value]) => ({ Key, Value })),
        SecretVersionsToStages: Object.fromEntries([...s.versions].filter(([, v]) => v.stages.size).map(([id, v]) => [id, [...v.stages]])),
        ...(s.deletedDate !== undefined ? { DeletedDate: s.deletedDate } : {}),
      })),
      ...(start + max < all.length ? { NextToken: Buffer.from(String(start + max)).toString('base64') } : {}),
    };
  }

  private listSecretVersionIds(input: Input): Input {
    const secret = this.live(input);
    const versions = [...secret.versions].filter(([, v]) => input.IncludeDeprecated === true || v.stages.size > 0);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: versions.map(([id, v]) => ({ VersionId: id, VersionStages: [...v.stages], CreatedDate: v.createdDate })),
    };
  }

  /** Puts `label` on `versionId`, taking it from whichever version held it; AWSPREVIOUS follows AWSCURRENT. */
  private attach(secret: SecretRecord, label: string, versionId: string): void {
    const holder = this.holder(secret, label);
    if (holder === versionId) return;
    if (holder !== undefined) secret.versions.get(holder)!.stages.delete(label);
    secret.versions.get(versionId)!.stages.add(label);
    if (label === 'AWSCURRENT' && holder !== undefined) {
      const previous = this.holder(secret, 'AWSPREVIOUS');
      if (previous !== undefined) secret.versions.get(previous)!.stages.delete('AWSPREVIOUS');
      secret.versions.get(holder)!.stages.add('AWSPREVIOUS');
    }
  }

  private holder(secret: SecretRecord, label: string): string | undefined {
    for (const [id, v] of secret.versions) if (v.stages.has(label)) return id;
    return undefined;
  }

  private dropOldDeprecated(secret: SecretRecord): void {
    for (const [id, v] of secret.versions) {
      if (secret.versions.size <= MAX_VERSIONS) return;
      if (v.stages.size === 0) secret.versions.delete(id);
    }
  }

  /** The secret named by SecretId (a name or its full ARN). */
  private find(input: Input): SecretRecord {
    const id = requiredString(input, 'SecretId');
    const secret = this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id);
    if (!secret) throw new AwsError('ResourceNotFoundException', NOT_FOUND);
    return secret;
  }

  /** As find, refusing a secret scheduled for deletion. */
  private live(input: Input): SecretRecord {
    const secret = this.find(input);
    if (secret.deletedDate !== undefined) throw new AwsError('InvalidRequestException', MARKED_FOR_DELETION);
    return secret;
  }
}

function awsError(error: AwsError): DoubleResponse {
  return {
    status: error.status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': randomUUID(),
      'x-amzn-errortype': `${error.type}:`,
    },
    body: { __type: error.type, Message: error.message },
  };
}

function requiredString(input: Input, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new AwsError('InvalidParameterException', `Invalid parameter: ${field} is required.`);
  }
  return value;
}

function optionalString(input: Input, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AwsError('InvalidParameterException', `Invalid parameter: ${field} must be a string.`);
  return value;
}

function optionalToken(input: Input): string | undefined {
  const token = optionalString(input, 'ClientRequestToken');
  if (token !== undefined && (token.length < 32 || token.length > 64)) {
    throw new AwsError('InvalidParameterException', 'ClientRequestToken must be 32 to 64 characters long.');
  }
  return token;
}

function stageList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > 20 || !value.every((s) => typeof s === 'string' && s.length >= 1 && s.length <= 256)) {
    throw new AwsError('InvalidParameterException', 'VersionStages must be a list of 1 to 20 labels.');
  }
  return [...new Set(value as string[])];
}

function tagList(value: unknown): Array<{ Key: string; Value: string }> {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((t) => typeof t?.Key === 'string' && typeof t?.Value === 'string')) {
    throw new AwsError('InvalidParameterException', 'Tags must be a list of {Key, Value} strings.');
  }
  return value as Array<{ Key: string; Value: string }>;
}

function epoch(): number {
  return Date.now() / 1000;
}

function suffix(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
}
