/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit. The Cloud KMS
 * stand-in plays the server, so it computes the integrity fields itself rather than
 * sharing the driver's table-driven code: a wrong checksum in the driver then fails
 * against the stand-in instead of agreeing with itself.
 *
 * @example
 * crc32c(Buffer.from('123456789')) // 0xe3069283
 */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
