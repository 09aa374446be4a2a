import type { KmsDriver } from './kms-driver';

/**
 * A driver that builds the real one on first use. createByok uses it for the default
 * `localKms()` when nothing needs a KMS at start-up (no providers, no auth), so a host
 * that only uses users and audit needs no master key; the first seal or open still
 * fails with localKms's clear `config_invalid` when none is configured.
 */
export function lazyKms(make: () => KmsDriver, id: string): KmsDriver {
  let driver: KmsDriver | undefined;
  const real = () => (driver ??= make());
  return {
    id,
    primaryKey: () => real().primaryKey(),
    selectKey: (keyId, version) => real().selectKey(keyId, version),
    wrap: (dek, key, context) => real().wrap(dek, key, context),
    unwrap: (wrapped, key, context) => real().unwrap(wrapped, key, context),
    get minimumVersion() {
      return driver?.minimumVersion;
    },
    listKeys: async () => (await real().listKeys?.()) ?? [],
    close: async () => {
      await driver?.close?.();
    },
  };
}
