// Type declarations for @gaia-platform/iam.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Reason =
  | 'token_invalid' | 'token_expired' | 'token_revoked' | 'permission_missing'
  | 'not_ready' | 'policy_unsupported' | 'error';

export interface Decision {
  readonly allow: boolean;
  /** Sorted; empty when allowed. */
  readonly reasons: readonly Reason[];
  /** The bundle revision that decided ("" before the first bundle). */
  readonly revision: string;
}

export interface Principal {
  readonly id: string;
  readonly username: string;
  readonly type: string;
  readonly roles: unknown[];
  /** The token's own claim, informational: decisions use the bundle's grants. */
  readonly permissions: unknown[];
  /** The verified token payload. */
  readonly claims: Record<string, unknown>;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface AuthorizerOptions {
  /** The IAM's base URL. */
  iamUrl?: string;
  /** Sidecar mode: ask a stock OPA at this URL instead of deciding in process. */
  opaUrl?: string;
  /** Milliseconds between polls of the JWKS and bundle (default 10 000). */
  pollInterval?: number;
  /** Keep the last good bundle and its JWKS here, and start from them. */
  cacheDir?: string;
  /** The issuer the bundle's config must name (default 'gaia-iam'; null: any). */
  issuer?: string | null;
  /** Timeout of each HTTP request, in milliseconds (default 5000). */
  timeout?: number;
  /** The clock, in Unix seconds (default Date.now() / 1000). */
  now?: () => number;
  /** Entries of the decision cache (default 10 000). */
  cacheSize?: number;
  /** Where log lines go (default console.error for info, warn and error). */
  logger?: Logger;
}

export interface Authorizer {
  readonly mode: 'embedded' | 'sidecar';
  readonly revision: string;
  /** Requests made to the IAM (or OPA) so far. */
  readonly requestCount: number;
  /** Whether checks can be allowed: a stock-policy bundle is active (sidecar: OPA answers). */
  isReady(): boolean;
  /** Resolves true once ready, false after timeoutMs (default 10 000) or close(). */
  whenReady(timeoutMs?: number): Promise<boolean>;
  /** The policy's decision; never rejects. */
  authorize(token: string, permission: string): Promise<Decision>;
  /** Whether token grants permission; false on any error. */
  hasPermission(token: string, permission: string): Promise<boolean>;
  /** The caller of a valid, unrevoked token; rejects with InvalidTokenError or NotReadyError. */
  principal(token: string): Promise<Principal>;
  check(token: string, permission: string): Promise<[Decision, Principal | null]>;
  /** Express (or node:http) middleware: sets req.principal, or answers 401/403/503 as the Go SDK. */
  requirePermission(permission: string): (req: IncomingMessage & { principal?: Principal }, res: ServerResponse, next: (err?: unknown) => void) => void;
  /** Stops every timer and request in flight. */
  close(): Promise<void>;
}

export function createAuthorizer(options: AuthorizerOptions): Authorizer;
export function bearerToken(header: string | undefined | null): string | null;

export class InvalidTokenError extends Error {
  readonly reason: 'token_invalid' | 'token_expired' | 'token_revoked';
}
export class NotReadyError extends Error {
  readonly reason: 'not_ready' | 'policy_unsupported' | 'error';
}
export class BundleRefused extends Error {}

export const STOCK_POLICY_DIGEST: string;
export const TOKEN_INVALID: 'token_invalid';
export const TOKEN_EXPIRED: 'token_expired';
export const TOKEN_REVOKED: 'token_revoked';
export const PERMISSION_MISSING: 'permission_missing';
export const NOT_READY: 'not_ready';
export const POLICY_UNSUPPORTED: 'policy_unsupported';
export const ERROR: 'error';

declare global {
  namespace Express {
    interface Request {
      principal?: import('./index.js').Principal;
    }
  }
}
