/**
 * Review item ids as SQL: RFC 9562 UUIDv8 values made of 72 bits of the
 * campaign's (random, v4) id and a 48-bit ordinal, so one campaign's items
 * get ascending ids. Opening a campaign inserts 100,000 items in one
 * statement; ascending keys turn every index insert into an append instead of
 * a random page write, which roughly halves the time to open.
 *
 * `campaignHex` is an SQL expression of the campaign id without dashes (32
 * hex digits); `ordinal` an SQL bigint expression, 1, 2, 3, ...
 *
 *   cccccccc-cccc-8ccc-8ccc-nnnnnnnnnnnn   (version 8, variant 10)
 */
export function itemIdSql(campaignHex: string, ordinal: string): string {
  return `(substr(${campaignHex}, 1, 8) || '-' || substr(${campaignHex}, 9, 4) || '-8' || substr(${campaignHex}, 14, 3)
    || '-8' || substr(${campaignHex}, 18, 3) || '-' || lpad(to_hex(${ordinal}), 12, '0'))::uuid`;
}
