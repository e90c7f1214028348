import { describe, expect, it } from 'vitest';
import {
  formatPhoneInternational,
  maskPhone,
  phoneVariants,
  whatsappSourceId,
} from '../../../src/conversations/reference/phone.ts';

describe('maskPhone', () => {
  it.each([
    { name: 'keeps the UK calling code and the last 4 digits', e164: '+442079460958', masked: '+44 •••• ••0958' },
    { name: 'keeps the US calling code and the last 4 digits', e164: '+14155550123', masked: '+1 •••• ••0123' },
    { name: 'keeps a 3-digit calling code', e164: '+35312345678', masked: '+353 •••• ••5678' },
    { name: 'hides the length of a long number', e164: '+4930123456789', masked: '+49 •••• ••6789' },
    { name: 'shows only 3 digits of a 6-digit national number', e164: '+49301234', masked: '+49 •••• ••234' },
    {
      name: 'keeps at least 3 national digits hidden in a very short number',
      e164: '+6834002',
      masked: '+683 •••• ••2',
    },
    {
      name: 'masks input whose calling code is unknown without naming one',
      e164: '+9991234567',
      masked: '+•••• ••4567',
    },
  ])('$name', ({ e164, masked }) => {
    expect(maskPhone(e164)).toBe(masked);
  });
});

describe('phoneVariants', () => {
  it.each([
    {
      name: 'adds the form without the 9 to a Brazilian mobile number',
      e164: '+5511987654321',
      variants: ['+5511987654321', '+551187654321'],
    },
    {
      name: 'adds the form with the 9 to an old Brazilian mobile number',
      e164: '+551187654321',
      variants: ['+551187654321', '+5511987654321'],
    },
    {
      name: 'handles a Brazilian mobile number outside São Paulo',
      e164: '+5531992903943',
      variants: ['+5531992903943', '+553192903943'],
    },
    {
      name: 'adds nothing to a Brazilian landline, whose 9-prefixed form is another line',
      e164: '+551133334444',
      variants: ['+551133334444'],
    },
    {
      name: 'adds nothing to a Brazilian mobile number whose 8-digit form would be a landline',
      e164: '+5511933334444',
      variants: ['+5511933334444'],
    },
    {
      name: 'adds nothing to a new Brazilian mobile number that never had an 8-digit form',
      e164: '+5511912345678',
      variants: ['+5511912345678'],
    },
    {
      name: 'adds the form without the 9 to an Argentine mobile number',
      e164: '+5491123456789',
      variants: ['+5491123456789', '+541123456789'],
    },
    {
      name: 'never invents a form with the 9 for an Argentine number written without it (it may be a landline)',
      e164: '+541123456789',
      variants: ['+541123456789'],
    },
    {
      name: 'adds the form without the 1 to a Mexican WhatsApp id',
      e164: '+5215512345678',
      variants: ['+5215512345678', '+525512345678'],
    },
    {
      name: 'never invents a form with the 1 for a Mexican number',
      e164: '+525512345678',
      variants: ['+525512345678'],
    },
    {
      name: 'handles an Argentine number with a 3-digit area code',
      e164: '+5492214123456',
      variants: ['+5492214123456', '+542214123456'],
    },
    { name: 'returns a UK number alone', e164: '+442079460958', variants: ['+442079460958'] },
    { name: 'returns a US number alone', e164: '+14155550123', variants: ['+14155550123'] },
    { name: 'returns input that is not E.164 alone', e164: '5511987654321', variants: ['5511987654321'] },
  ])('$name', ({ e164, variants }) => {
    expect(phoneVariants(e164)).toEqual(variants);
  });
});

describe('whatsappSourceId', () => {
  it.each([
    { name: 'drops the + from a UK number', e164: '+442079460958', sourceId: '442079460958' },
    { name: 'drops the + from a Brazilian number', e164: '+5511987654321', sourceId: '5511987654321' },
  ])('$name', ({ e164, sourceId }) => {
    expect(whatsappSourceId(e164)).toBe(sourceId);
  });

  it.each([
    { name: 'refuses digits without a +', input: '442079460958' },
    { name: 'refuses a formatted number', input: '+44 20 7946 0958' },
    { name: 'refuses an empty string', input: '' },
    { name: 'refuses more than 15 digits', input: '+1234567890123456' },
  ])('$name', ({ input }) => {
    expect(() => whatsappSourceId(input)).toThrow(RangeError);
  });
});

describe('formatPhoneInternational', () => {
  it.each([
    { name: 'formats a UK number in groups', e164: '+442079460958', formatted: '+44 20 7946 0958' },
    { name: 'formats an Argentine mobile number with its 9', e164: '+5491123456789', formatted: '+54 9 11 2345 6789' },
    { name: 'returns unreadable input unchanged', e164: 'not a number', formatted: 'not a number' },
  ])('$name', ({ e164, formatted }) => {
    expect(formatPhoneInternational(e164)).toBe(formatted);
  });
});
