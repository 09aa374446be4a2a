// @byok/testing/kms — for KMS driver authors: the KMS conformance suite and local
// stand-ins that speak the AWS KMS (JSON over HTTP) and Cloud KMS (gRPC) wire protocols.
// The Cloud KMS stand-in needs the optional peers @grpc/grpc-js, @grpc/proto-loader and
// @google-cloud/kms (for its .proto files); they are loaded only when it starts.
export { kmsConformance } from './kms-conformance';
export type { KmsConformanceOptions, KmsConformanceHarness, KmsFaultKind } from './kms-conformance';
export { startAwsKmsStandIn } from './aws-kms-stand-in';
export type { AwsKmsStandIn, AwsKmsStandInOptions, AwsKmsStandInRequest } from './aws-kms-stand-in';
export type { KmsStandInFault, KmsStandInCalls } from './kms-faults';
export { startGcpKmsStandIn } from './gcp-kms-stand-in';
export type { GcpKmsStandIn, GcpKmsStandInOptions, GcpKmsStandInRequest, GcpKeyVersionState, GcpIntegrityFault, GcpIntegrityFaultKind, GcpKmsPermissions } from './gcp-kms-stand-in';
