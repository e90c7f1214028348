import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** `+` then 2–15 digits, no leading zero: the shape every function here expects. */
const E164 = /^\+[1-9]\d{1,14}$/;

/** The mask used for hidden digits. Always the same width, so a masked number does not reveal its length. */
const HIDDEN = '•••• ••';

/**
 * Masks a phone number for logs and lists.
 *
 * Format: `+<country calling code> •••• ••<last 4 digits>`, e.g. `+442079460958` → `+44 •••• ••0958` and
 * `+14155550123` → `+1 •••• ••0123`. The hidden part always has the same width, whatever the number's length.
 * At least 3 digits of the national number always stay hidden, so a short national number shows fewer than 4
 * (`+6834002` → `+683 •••• ••2`). Input whose calling code is unknown is masked without one (`+•••• ••1234`).
 */
export function maskPhone(e164: string): string {
  const digits = e164.replace(/\D/g, '');
  const callingCode = parsePhoneNumberFromString(`+${digits}`)?.countryCallingCode;
  if (callingCode === undefined || !digits.startsWith(callingCode)) {
    return `+${HIDDEN}${visibleTail(digits)}`;
  }
  return `+${callingCode} ${HIDDEN}${visibleTail(digits.slice(callingCode.length))}`;
}

function visibleTail(digits: string): string {
  const keep = Math.max(0, Math.min(4, digits.length - 3));
  return keep === 0 ? '' : digits.slice(-keep);
}

/**
 * Numbers WhatsApp may know the same person by; the first element is always the input.
 *
 * - Brazil (+55): mobile numbers gained a leading 9 (2012–2016); WhatsApp ids of accounts created before still lack
 *   it. `+55 AA 9XXXXXXXX` ⇄ `+55 AA XXXXXXXX`, only when the 8-digit subscriber number starts with 6–9 (the old mobile
 *   ranges: 2–5 are landlines, so `+55 11 3333 4444` and `+55 11 93333 4444` are different lines and are not
 *   linked), and only when the 9-digit form is a valid Brazilian mobile number.
 * - Argentina (+54) and Mexico (+52): WhatsApp ids of mobiles carry a 9 after 54 (a 1 after 52) that Chatwoot drops
 *   when it stores the contact (its Argentina/Mexico normalizers). Linked one way only, like Chatwoot: from the form
 *   with the digit to the form without. The other way would invent a number: `+54 11 2345 6789` without the 9 is a
 *   valid landline, and a synthesized `+54 9 …` could be a different subscriber.
 * - Anything else, or input that is not E.164: just `[e164]`.
 */
export function phoneVariants(e164: string): string[] {
  if (!E164.test(e164)) return [e164];
  const variant = brazilVariant(e164) ?? argentinaVariant(e164) ?? mexicoVariant(e164);
  return variant === undefined || variant === e164 ? [e164] : [e164, variant];
}

function brazilVariant(e164: string): string | undefined {
  const withNine = /^\+55([1-9]{2})9([6-9]\d{7})$/.exec(e164);
  if (withNine) {
    const [, area, subscriber] = withNine;
    return isMobile(e164, 'BR') ? `+55${area}${subscriber}` : undefined;
  }
  const withoutNine = /^\+55([1-9]{2})([6-9]\d{7})$/.exec(e164);
  if (withoutNine) {
    const [, area, subscriber] = withoutNine;
    const candidate = `+55${area}9${subscriber}`;
    return isMobile(candidate, 'BR') ? candidate : undefined;
  }
  return undefined;
}

function argentinaVariant(e164: string): string | undefined {
  const withNine = /^\+549(\d{10})$/.exec(e164);
  if (withNine) {
    const candidate = `+54${withNine[1]}`;
    return isMobile(e164, 'AR') && isValidIn(candidate, 'AR') ? candidate : undefined;
  }
  return undefined;
}

function mexicoVariant(e164: string): string | undefined {
  const withOne = /^\+521(\d{10})$/.exec(e164);
  if (withOne === null) return undefined;
  const candidate = `+52${withOne[1]}`;
  return isValidIn(candidate, 'MX') ? candidate : undefined;
}

function isValidIn(e164: string, country: string): boolean {
  const parsed = parsePhoneNumberFromString(e164, { extract: false });
  return parsed?.isValid() === true && parsed.country === country;
}

function isMobile(e164: string, country: string): boolean {
  const parsed = parsePhoneNumberFromString(e164, { extract: false });
  return parsed?.isValid() === true && parsed.country === country && parsed.getType() === 'MOBILE';
}

/**
 * E.164 digits without '+' — the WhatsApp `source_id` Chatwoot stores.
 * @throws RangeError when the input is not an E.164 number (`+` and 2–15 digits), which is a programming error.
 */
export function whatsappSourceId(e164: string): string {
  if (!E164.test(e164)) throw new RangeError(`Not an E.164 phone number: ${maskPhone(e164)}`);
  return e164.slice(1);
}

/** `+442079460958` → `+44 20 7946 0958`; input libphonenumber cannot read is returned unchanged. */
export function formatPhoneInternational(e164: string): string {
  return parsePhoneNumberFromString(e164, { extract: false })?.formatInternational() ?? e164;
}
