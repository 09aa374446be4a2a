// @byok/testing/oidc — a real OpenID provider (the optional peer oidc-provider, loaded
// when it starts) on loopback, a login driver with a cookie jar, and test JWTs.
export { startDevIssuer, DEFAULT_DEV_USERS, DEFAULT_DEV_CLIENTS } from './dev-issuer';
export type { DevIssuer, DevIssuerOptions, DevIssuerUser, DevIssuerClient, IdTokenTamper } from './dev-issuer';
export { driveLogin } from './drive-login';
export type { DriveLoginOptions } from './drive-login';
export { CookieJar } from './cookie-jar';
export { signTestJwt, testSigningKeyPair, decodeTestJwt } from './test-jws';
export type { TestJwsAlg, TestJwsKey, TestKeyPair } from './test-jws';
