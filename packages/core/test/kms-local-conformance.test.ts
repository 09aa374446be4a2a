import { randomBytes } from 'node:crypto';
import { localKms } from '@byok/core';
import { kmsConformance } from '@byok/testing';

const keys = (version: number) => `${version}:${randomBytes(32).toString('base64')}`;

kmsConformance({
  name: 'localKms',
  makeDriver: () => ({
    driver: localKms({ keys: `${keys(2)},${keys(1)}` }),
    foreignDriver: localKms({ keys: keys(2) }),
  }),
});
