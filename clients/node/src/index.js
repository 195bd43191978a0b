export {
  createAuthorizer,
  bearerToken,
  InvalidTokenError,
  NotReadyError,
  TOKEN_INVALID,
  TOKEN_EXPIRED,
  TOKEN_REVOKED,
  PERMISSION_MISSING,
  NOT_READY,
  POLICY_UNSUPPORTED,
  ERROR,
} from './authorizer.js';
export { STOCK_POLICY_DIGEST, StockPolicy } from './decide.js';
export { readBundle, policyDigest, BundleRefused } from './bundle.js';
