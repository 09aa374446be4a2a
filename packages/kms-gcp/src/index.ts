// @byok/kms-gcp public surface.
export { gcpKms } from './gcp-kms';
export type { GcpKms, GcpKmsOptions, GcpKmsClientLike, GcpCallOptions } from './gcp-kms';
