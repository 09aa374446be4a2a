// @byok/testing — every kit at once. Importing a subpath needs only that kit's optional
// peers: `@byok/testing/store` (store authors: none of gRPC, Cloud KMS, oidc-provider),
// `/kms`, `/oidc`, `/llm`, `/http`. New names go into the subpath's index; `api/testing.api.md`
// is the reviewed list.
export * from './store/index';
export * from './kms/index';
export * from './oidc/index';
export * from './llm/index';
export * from './http/index';
