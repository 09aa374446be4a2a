// @byok/kms-aws public surface.
export { awsKms } from './aws-kms';
export type { AwsKms, AwsKmsOptions, AwsKmsClientLike } from './aws-kms';
