import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

import { OAUTH_ERROR_CODES } from '../oauth-errors';

const CLIENT_AUTH_PROPERTIES: Record<string, SchemaObject> = {
  client_id: { type: 'string', description: 'The credential’s clientId (client_secret_post; optional with the others)' },
  client_secret: { type: 'string', description: 'client_secret_post: the credential’s current or in-grace secret' },
  client_assertion_type: { type: 'string', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'] },
  client_assertion: { type: 'string', description: 'private_key_jwt (RFC 7523): a JWT signed by a key of the credential’s JWK set' },
};

/** The form bodies, for the OpenAPI document (the endpoints read the form themselves: OAuth errors are not problem+json). */
export const TOKEN_REQUEST_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['grant_type'],
  properties: {
    grant_type: { type: 'string', enum: ['client_credentials'] },
    scope: { type: 'string', description: 'Space-separated subset of the credential’s scopes; all of them when absent' },
    ...CLIENT_AUTH_PROPERTIES,
  },
};

export const TOKEN_PARAM_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['token'],
  properties: {
    token: { type: 'string' },
    token_type_hint: { type: 'string', enum: ['access_token'] },
    ...CLIENT_AUTH_PROPERTIES,
  },
};

export class OAuthErrorDto {
  @ApiProperty({ enum: OAUTH_ERROR_CODES }) error!: string;
  @ApiProperty() error_description!: string;
}

export class AccessTokenResponseDto {
  @ApiProperty({ description: 'A JWT access token (RFC 9068, ES256)' }) access_token!: string;
  @ApiProperty({ enum: ['Bearer'] }) token_type!: 'Bearer';
  @ApiProperty({ type: 'integer', description: 'Seconds until it expires (OAUTH_TOKEN_TTL_SECONDS)' }) expires_in!: number;
  @ApiProperty({ description: 'The granted scopes, space-separated' }) scope!: string;
}

export class IntrospectionResponseDto {
  @ApiProperty() active!: boolean;
  @ApiPropertyOptional() scope?: string;
  @ApiPropertyOptional() client_id?: string;
  @ApiPropertyOptional({ description: 'The agent id' }) sub?: string;
  @ApiPropertyOptional({ type: 'integer' }) exp?: number;
  @ApiPropertyOptional({ type: 'integer' }) iat?: number;
  @ApiPropertyOptional() iss?: string;
  @ApiPropertyOptional() aud?: string;
  @ApiPropertyOptional({ enum: ['Bearer'] }) token_type?: string;
  @ApiPropertyOptional() jti?: string;
  @ApiPropertyOptional({ format: 'uuid' }) credential_id?: string;
}

export class AuthorizationServerMetadataDto {
  @ApiProperty() issuer!: string;
  @ApiProperty() token_endpoint!: string;
  @ApiProperty() jwks_uri!: string;
  @ApiProperty() introspection_endpoint!: string;
  @ApiProperty() revocation_endpoint!: string;
  @ApiProperty({ type: [String] }) grant_types_supported!: string[];
  @ApiProperty({ type: [String] }) response_types_supported!: string[];
  @ApiProperty({ type: [String] }) token_endpoint_auth_methods_supported!: string[];
  @ApiProperty({ type: [String] }) token_endpoint_auth_signing_alg_values_supported!: string[];
  @ApiProperty({ type: [String] }) introspection_endpoint_auth_methods_supported!: string[];
  @ApiProperty({ type: [String] }) revocation_endpoint_auth_methods_supported!: string[];
}

export class JwksDto {
  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Public ES256 keys (kid, kty, crv, x, y, alg, use)',
  })
  keys!: Array<Record<string, unknown>>;
}
