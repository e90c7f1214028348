import { describe, expect, it } from 'vitest';
import {
  type ConversationReference,
  describeReference,
  parseReference,
  parseTarget,
  REFERENCE_USAGE,
  type ReferenceOptions,
  type ReferenceProblem,
  referenceKey,
} from '../../../src/conversations/reference/parse-reference.ts';

const base: ReferenceOptions = { accountId: 1, chatwootOrigins: ['https://chat.example.com'] };
const gb: ReferenceOptions = { ...base, defaultRegion: 'GB' };
const us: ReferenceOptions = { ...base, defaultRegion: 'US' };
const de: ReferenceOptions = { ...base, defaultRegion: 'DE' };
const twoOrigins: ReferenceOptions = {
  ...base,
  chatwootOrigins: ['https://chat.example.com/', 'http://localhost:3000'],
};

const CW = 'https://chat.example.com/app/accounts/1';

const id = (conversationId: number, looksLikePhone = false): ConversationReference => ({
  kind: 'id',
  conversationId,
  looksLikePhone,
});
const url = (conversationId: number): ConversationReference => ({ kind: 'url', conversationId });
const phone = (e164: string, country: string | undefined): ConversationReference => ({ kind: 'phone', e164, country });

interface Success {
  name: string;
  input: string;
  options?: ReferenceOptions;
  reference: ConversationReference;
  text: string;
}

const successes: Success[] = [
  // Phone numbers as people paste them
  {
    name: 'reads a US number with parentheses and a dash',
    input: '+1 (415) 555-0123 Hello',
    reference: phone('+14155550123', 'US'),
    text: 'Hello',
  },
  {
    name: 'reads a UK number written in groups',
    input: '+44 20 7946 0958 Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a number with the 00 international prefix',
    input: '0044 20 7946 0958 Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a 00 number the same way when a default region is set',
    input: '0044 20 7946 0958 Hello',
    options: gb,
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a number written with dots',
    input: '+1.415.555.0123 Hello',
    reference: phone('+14155550123', 'US'),
    text: 'Hello',
  },
  {
    name: 'reads a number with the (0) trunk notation',
    input: '+44 (0) 20 7946 0958 Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a number with the (0) trunk notation written without spaces',
    input: '+44(0)20 7946 0958 Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a German number with the (0) trunk notation',
    input: '+49 (0)30 1234567 Hallo',
    reference: phone('+49301234567', 'DE'),
    text: 'Hallo',
  },
  {
    name: 'reads a number written without any separators',
    input: '+14155550123 Hello',
    reference: phone('+14155550123', 'US'),
    text: 'Hello',
  },
  {
    name: 'reads a number written with dashes between all groups',
    input: '+44-20-7946-0958 Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a number whose country code is in parentheses',
    input: '(+44) 20 7946 0958 Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a number separated by non-breaking spaces',
    input: '+44\u00a020\u00a07946\u00a00958 Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'ignores the invisible direction marks that copying from WhatsApp adds around a number',
    input: '\u202a+44 20 7946 0958\u202c Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a German variable-length number when nothing after it could extend it',
    input: '+49 30 1234567 Hallo',
    reference: phone('+49301234567', 'DE'),
    text: 'Hallo',
  },
  {
    name: 'reads a French number written in pairs',
    input: '+33 6 12 34 56 78 Bonjour',
    reference: phone('+33612345678', 'FR'),
    text: 'Bonjour',
  },
  {
    name: 'reads a Brazilian mobile number',
    input: '+55 11 98765-4321 Olá',
    reference: phone('+5511987654321', 'BR'),
    text: 'Olá',
  },
  {
    name: 'reads an Argentine mobile number with the 9 after 54',
    input: '+54 9 11 2345-6789 Hola',
    reference: phone('+5491123456789', 'AR'),
    text: 'Hola',
  },
  {
    name: 'reads a non-geographic number without a country',
    input: '+800 1234 5678 hi',
    reference: phone('+80012345678', undefined),
    text: 'hi',
  },
  {
    name: 'keeps a message that starts with digits out of the number',
    input: '+1 415 555 0123 2 boxes arrived',
    reference: phone('+14155550123', 'US'),
    text: '2 boxes arrived',
  },
  {
    name: 'keeps extension-like trailing digits in the message',
    input: '+44 20 7946 0958 123 is your desk',
    reference: phone('+442079460958', 'GB'),
    text: '123 is your desk',
  },
  {
    name: 'keeps trailing digits with punctuation in the message when they cannot extend the number',
    input: '+1 415 555 0123 4567, hi',
    reference: phone('+14155550123', 'US'),
    text: '4567, hi',
  },
  {
    name: 'keeps a full stop after the last group out of the message',
    input: '+44 20 7946 0958. Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'keeps an x extension in the message',
    input: '+1 415 555 0123 x123 please call back',
    reference: phone('+14155550123', 'US'),
    text: 'x123 please call back',
  },
  {
    name: 'keeps an ext. extension in the message',
    input: '+1 415 555 0123 ext. 5 is busy',
    reference: phone('+14155550123', 'US'),
    text: 'ext. 5 is busy',
  },
  {
    name: 'ends the number at a line break even when the next line starts with digits',
    input: '+49 30 1234567\n89 boxes arrived',
    reference: phone('+49301234567', 'DE'),
    text: '89 boxes arrived',
  },
  {
    name: 'returns a multi-line message with emoji after the number exactly',
    input: '+44 20 7946 0958\nHello 👋\n\nYour parcel 📦 is here.\n',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello 👋\n\nYour parcel 📦 is here.\n',
  },
  {
    name: 'returns a message that starts with an emoji',
    input: '+44 20 7946 0958 🎉 Delivered',
    reference: phone('+442079460958', 'GB'),
    text: '🎉 Delivered',
  },
  {
    name: 'ignores the default region for a number that starts with +',
    input: '+44 20 7946 0958 Hello',
    options: us,
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  // National format
  {
    name: 'reads a UK national number when the default region is GB',
    input: '020 7946 0958 Hello',
    options: gb,
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a US national number with parentheses when the default region is US',
    input: '(415) 555-0123 Hello',
    options: us,
    reference: phone('+14155550123', 'US'),
    text: 'Hello',
  },
  {
    name: 'reads a US national number written with dashes when the default region is US',
    input: '415-555-0123 Hello',
    options: us,
    reference: phone('+14155550123', 'US'),
    text: 'Hello',
  },
  {
    name: 'reads a German national number written with a slash when the default region is DE',
    input: '030/1234567 Hallo',
    options: de,
    reference: phone('+49301234567', 'DE'),
    text: 'Hallo',
  },
  {
    name: 'accepts a lowercase default region',
    input: '020 7946 0958 Hello',
    options: { ...base, defaultRegion: 'gb' },
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  // Conversation ids
  {
    name: 'reads #57 as conversation 57',
    input: '#57 hi',
    reference: id(57),
    text: 'hi',
  },
  {
    name: 'reads bare 57 as conversation 57',
    input: '57 hi',
    reference: id(57),
    text: 'hi',
  },
  {
    name: 'reads bare 57 as conversation 57 even with a default region',
    input: '57 hi',
    options: gb,
    reference: id(57),
    text: 'hi',
  },
  {
    name: 'reads an id followed by a message that starts with digits',
    input: '57 2 boxes arrived',
    options: us,
    reference: id(57),
    text: '2 boxes arrived',
  },
  {
    name: 'reads an id followed by a year',
    input: '57 2024 report is ready',
    reference: id(57),
    text: '2024 report is ready',
  },
  {
    name: 'reads an id followed by a year when the default region is DE',
    input: '57 2024 report is ready',
    options: de,
    reference: id(57),
    text: '2024 report is ready',
  },
  {
    name: 'reads an id followed by digits that are only an Austrian short number',
    input: '57 100 units',
    options: { ...base, defaultRegion: 'AT' },
    reference: id(57),
    text: '100 units',
  },
  {
    name: 'reads an id followed by a date written in groups',
    input: '812 2024 10 15 deadline',
    options: us,
    reference: id(812),
    text: '2024 10 15 deadline',
  },
  {
    name: 'reads a 10-digit bare id as an id with the phone hint',
    input: '4155550123 Hello',
    reference: id(4155550123, true),
    text: 'Hello',
  },
  {
    name: 'reads a 10-digit bare id as an id with the phone hint even when it is a valid national number',
    input: '4155550123 Hello',
    options: us,
    reference: id(4155550123, true),
    text: 'Hello',
  },
  {
    name: 'gives the phone hint from 7 digits on',
    input: '1234567 hi',
    reference: id(1234567, true),
    text: 'hi',
  },
  {
    name: 'gives no phone hint to a 6-digit id',
    input: '123456 hi',
    reference: id(123456),
    text: 'hi',
  },
  {
    name: 'gives no phone hint to a long id written with #',
    input: '#4155550123 hi',
    reference: id(4155550123),
    text: 'hi',
  },
  {
    name: 'reads an id whose message starts on the next line',
    input: '#57\nHello\nthere',
    reference: id(57),
    text: 'Hello\nthere',
  },
  {
    name: 'removes leading input whitespace and the separator but keeps trailing whitespace',
    input: '  #57   hi  ',
    reference: id(57),
    text: 'hi  ',
  },
  {
    name: 'returns the message still in Slack format with escapes and links',
    input: '#57 Tom &amp; Jerry &lt;3 <https://example.com|our site> *bold*',
    reference: id(57),
    text: 'Tom &amp; Jerry &lt;3 <https://example.com|our site> *bold*',
  },
  // Chatwoot links
  {
    name: 'reads a plain conversation link',
    input: `${CW}/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link opened from an inbox',
    input: `${CW}/inbox/3/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link opened from a label',
    input: `${CW}/label/vip/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link opened from a team',
    input: `${CW}/team/2/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link opened from a custom view',
    input: `${CW}/custom_view/4/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link opened from mentions',
    input: `${CW}/mentions/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link opened from unattended',
    input: `${CW}/unattended/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link opened from participating',
    input: `${CW}/participating/conversations/57 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link with a messageId query',
    input: `${CW}/conversations/57?messageId=1234 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link whose query Slack escaped',
    input: `${CW}/conversations/57?messageId=1234&amp;tab=info Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link with a fragment',
    input: `${CW}/conversations/57#message-1234 Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link with a trailing slash',
    input: `${CW}/conversations/57/ Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link whose scheme and host are in capitals',
    input: 'HTTPS://CHAT.EXAMPLE.COM/app/accounts/1/conversations/57 Hello',
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'reads a conversation link on the second configured origin',
    input: 'http://localhost:3000/app/accounts/1/conversations/57 Hello',
    options: twoOrigins,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'matches a configured origin written with a trailing slash',
    input: `${CW}/conversations/57 Hello`,
    options: twoOrigins,
    reference: url(57),
    text: 'Hello',
  },
  // Slack wrapping
  {
    name: 'unwraps a Slack tel link with a label',
    input: '<tel:+14155550123|+1 415 555 0123> Hello',
    reference: phone('+14155550123', 'US'),
    text: 'Hello',
  },
  {
    name: 'unwraps a Slack tel link without a label',
    input: '<tel:+14155550123> Hello',
    reference: phone('+14155550123', 'US'),
    text: 'Hello',
  },
  {
    name: 'unwraps a Slack link with a label',
    input: `<${CW}/conversations/57|${CW}/conversations/57> Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'unwraps a Slack link with a shortened label',
    input: `<${CW}/label/vip/conversations/57|chat.example.com/app/...> Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'unwraps a Slack link without a label',
    input: `<${CW}/conversations/57> Hello`,
    reference: url(57),
    text: 'Hello',
  },
  {
    name: 'unwraps a Slack link whose query is escaped',
    input: `<${CW}/conversations/57?messageId=9&amp;x=1|link> Hello &amp; bye`,
    reference: url(57),
    text: 'Hello &amp; bye',
  },
  // Quoting
  {
    name: 'reads a number in straight quotes',
    input: '"+44 20 7946 0958" Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a number in Slack smart quotes',
    input: '“+44 20 7946 0958” Hello',
    reference: phone('+442079460958', 'GB'),
    text: 'Hello',
  },
  {
    name: 'reads a whole quoted variable-length number',
    input: '"+49 30 1234567 89" boxes',
    reference: phone('+4930123456789', 'DE'),
    text: 'boxes',
  },
  {
    name: 'reads a shorter quoted variable-length number and keeps the digits after it as text',
    input: '“+49 30 1234567” 89 boxes',
    reference: phone('+49301234567', 'DE'),
    text: '89 boxes',
  },
  {
    name: 'reads a quoted national number written in groups',
    input: '"415 555 0123" hi',
    options: us,
    reference: phone('+14155550123', 'US'),
    text: 'hi',
  },
  {
    name: 'reads a quoted id',
    input: '"57" hi',
    reference: id(57),
    text: 'hi',
  },
  {
    name: 'reads a quoted Slack tel link',
    input: '"<tel:+14155550123|+1 415 555 0123>" hi',
    reference: phone('+14155550123', 'US'),
    text: 'hi',
  },
];

interface Failure {
  name: string;
  input: string;
  options?: ReferenceOptions;
  code: ReferenceProblem['code'];
  mentions?: string[];
}

const failures: Failure[] = [
  // Usage
  { name: 'refuses empty input', input: '', code: 'usage' },
  { name: 'refuses input that is only whitespace', input: '  \n ', code: 'usage' },
  { name: 'refuses a name', input: 'Bob hello there', code: 'usage', mentions: ['“Bob”'] },
  { name: 'refuses an email address', input: 'bob@example.com hello', code: 'usage', mentions: ['email'] },
  {
    name: 'refuses a Slack-wrapped email address',
    input: '<mailto:bob@example.com|bob@example.com> hello',
    code: 'usage',
    mentions: ['email'],
  },
  { name: 'refuses a Slack user mention', input: '<@U123ABC> hello', code: 'usage', mentions: ['mention'] },
  { name: 'refuses a Slack channel mention', input: '<#C123ABC|general> hello', code: 'usage' },
  { name: 'refuses an id with no text after it', input: '#57', code: 'usage', mentions: ['Add the message'] },
  { name: 'refuses a bare id with no text after it', input: '57', code: 'usage' },
  { name: 'refuses a phone number with no text after it', input: '+44 20 7946 0958', code: 'usage' },
  {
    name: 'refuses a phone number followed only by whitespace and line breaks',
    input: '+44 20 7946 0958  \n \n',
    code: 'usage',
  },
  { name: 'refuses a link with no text after it', input: `${CW}/conversations/57`, code: 'usage' },
  {
    name: 'refuses a Slack tel link with no text after it',
    input: '<tel:+14155550123|+1 415 555 0123>',
    code: 'usage',
  },
  { name: 'refuses an id with a leading zero after #', input: '#057 hi', code: 'usage' },
  { name: 'refuses a # without digits', input: '# 57 hi', code: 'usage' },
  { name: 'refuses a # followed by letters', input: '#abc hi', code: 'usage' },
  { name: 'refuses an id with letters attached', input: '57abc hi', code: 'usage' },
  { name: 'refuses an id followed by a comma', input: '57, hi', code: 'usage', mentions: ['punctuation'] },
  { name: 'refuses an id with # followed by a colon', input: '#57: hi', code: 'usage', mentions: ['punctuation'] },
  {
    name: 'refuses a phone number written without spaces followed by a colon',
    input: '+442079460958: hi',
    code: 'usage',
    mentions: ['punctuation'],
  },
  {
    name: 'refuses a phone number whose last group has a comma attached',
    input: '+44 20 7946 0958, your order',
    code: 'usage',
    mentions: ['+44 20 7946 0958', 'Put a space'],
  },
  { name: 'refuses an id too large to be exact', input: '99999999999999999 hi', code: 'usage' },
  { name: 'refuses a + with no digits', input: '+ 44 20 7946 0958 hi', code: 'usage' },
  { name: 'refuses a quote that is never closed', input: '"+44 20 7946 0958 Hello', code: 'usage' },
  { name: 'refuses a closing quote with text attached', input: '"+44 20 7946 0958"Hello', code: 'usage' },
  { name: 'refuses empty quotes', input: '"" Hello', code: 'usage' },
  { name: 'refuses a Slack-escaped angle bracket', input: '&lt;57&gt; hi', code: 'usage' },
  // Links
  {
    name: 'refuses a link to another Chatwoot account',
    input: 'https://chat.example.com/app/accounts/2/conversations/57 hi',
    code: 'wrong_account',
    mentions: ['account 2', 'account 1'],
  },
  {
    name: 'refuses a Slack-wrapped link to another Chatwoot account',
    input: '<https://chat.example.com/app/accounts/2/inbox/3/conversations/57|link> hi',
    code: 'wrong_account',
    mentions: ['account 1'],
  },
  {
    name: 'refuses a link to another Chatwoot server with the same numbers',
    input: 'https://other.example.com/app/accounts/1/conversations/57 hi',
    code: 'wrong_host',
    mentions: ['https://other.example.com', 'https://chat.example.com'],
  },
  {
    name: 'refuses a link over http when Chatwoot is configured with https',
    input: 'http://chat.example.com/app/accounts/1/conversations/57 hi',
    code: 'wrong_host',
    mentions: ['https://chat.example.com'],
  },
  {
    name: 'refuses a link on another port',
    input: 'https://chat.example.com:8443/app/accounts/1/conversations/57 hi',
    code: 'wrong_host',
  },
  {
    name: 'refuses a look-alike host that starts with the configured host',
    input: 'https://chat.example.com.evil.test/app/accounts/1/conversations/57 hi',
    code: 'wrong_host',
  },
  {
    name: 'refuses a link whose real host follows user info that looks like the configured host',
    input: 'https://chat.example.com@evil.test/app/accounts/1/conversations/57 hi',
    code: 'wrong_host',
  },
  { name: 'refuses a link to an unrelated site', input: 'https://example.org/ hi', code: 'wrong_host' },
  {
    name: 'refuses every link when no Chatwoot origin is configured',
    input: `${CW}/conversations/57 hi`,
    options: { ...base, chatwootOrigins: [] },
    code: 'wrong_host',
  },
  {
    name: 'refuses a Chatwoot contact link',
    input: `${CW}/contacts/57 hi`,
    code: 'usage',
    mentions: ['not a link to a conversation'],
  },
  { name: 'refuses a Chatwoot inbox link', input: `${CW}/inbox/3 hi`, code: 'usage' },
  { name: 'refuses a Chatwoot label list link', input: `${CW}/label/vip hi`, code: 'usage' },
  { name: 'refuses a Chatwoot dashboard link', input: `${CW}/dashboard hi`, code: 'usage' },
  {
    name: 'refuses a Chatwoot API link',
    input: 'https://chat.example.com/api/v1/accounts/1/conversations/57 hi',
    code: 'usage',
  },
  { name: 'refuses a conversation link with extra path', input: `${CW}/conversations/57/messages hi`, code: 'usage' },
  { name: 'refuses a conversation link without a numeric id', input: `${CW}/conversations/abc hi`, code: 'usage' },
  { name: 'refuses a conversation link whose id starts with 0', input: `${CW}/conversations/057 hi`, code: 'usage' },
  { name: 'refuses a conversation link followed by a comma', input: `${CW}/conversations/57, hi`, code: 'usage' },
  // Invalid phone numbers
  {
    name: 'refuses a US number with too few digits',
    input: '+1 415 555 012 hi',
    code: 'invalid_phone',
    mentions: ['too few digits', '+1'],
  },
  {
    name: 'refuses a US number with too many digits and suggests quotes',
    input: '+1 415 555 01234 hi',
    code: 'invalid_phone',
    mentions: ['too many digits', 'quotes'],
  },
  {
    name: 'refuses an unknown country calling code',
    input: '+999 1234 5678 hi',
    code: 'invalid_phone',
    mentions: ['country calling code'],
  },
  {
    name: 'refuses a UK number in a range that is not in use',
    input: '+44 7700 900123 hi',
    code: 'invalid_phone',
    mentions: ['United Kingdom (+44)', 'not'],
  },
  {
    name: 'refuses an old 8-digit Brazilian mobile number that is no longer valid',
    input: '+55 11 8765-4321 Olá',
    code: 'invalid_phone',
    mentions: ['Brazil'],
  },
  {
    name: 'refuses a number with a + in a later group',
    input: '+44 +20 7946 0958 hi',
    code: 'invalid_phone',
  },
  {
    name: 'refuses 057 as a too short national number when a region is set',
    input: '057 hi',
    options: gb,
    code: 'invalid_phone',
    mentions: ['“057”', 'too few digits', 'United Kingdom'],
  },
  {
    name: 'refuses a +1 number with the (0) trunk notation, which the US does not use',
    input: '+1 (0) 415 555 0123 hi',
    code: 'invalid_phone',
  },
  // National numbers without a region
  {
    name: 'refuses 057 when no default region is set',
    input: '057 hi',
    code: 'national_without_region',
    mentions: ['DEFAULT_PHONE_REGION', '+ and the country code'],
  },
  {
    name: 'refuses a UK national number when no default region is set',
    input: '020 7946 0958 Hello',
    code: 'national_without_region',
    mentions: ['“020 7946 0958”', 'DEFAULT_PHONE_REGION'],
  },
  {
    name: 'refuses a US national number with parentheses when no default region is set',
    input: '(415) 555-0123 Hello',
    code: 'national_without_region',
  },
  {
    name: 'refuses a national number when the configured region is not a country code',
    input: '020 7946 0958 Hello',
    options: { ...base, defaultRegion: 'XX' },
    code: 'national_without_region',
    mentions: ['“XX”'],
  },
  // Ambiguity
  {
    name: 'refuses a German number followed by digits that could extend it',
    input: '+49 30 1234567 89 boxes',
    code: 'ambiguous_phone',
    mentions: ['+49 30 1234567', '+49 30 123456789', 'quotes'],
  },
  {
    name: 'refuses an Austrian number followed by digits that could extend it',
    input: '+43 1 234567 89 Pakete',
    code: 'ambiguous_phone',
  },
  {
    name: 'refuses a German number written in groups where a shorter prefix is also valid',
    input: '+49 30 123 4567 Hallo',
    code: 'ambiguous_phone',
  },
  {
    name: 'refuses a German number followed by digits with a comma attached that could extend it',
    input: '+49 30 1234567 89, boxes',
    code: 'ambiguous_phone',
    mentions: ['+49 30 123456789'],
  },
  {
    name: 'refuses bare digit groups with a comma attached that read as a national number',
    input: '415 555 0123, hi',
    options: us,
    code: 'ambiguous_phone',
  },
  {
    name: 'refuses a Slack tel link followed by digits that could extend it',
    input: '<tel:+49301234567|+49 30 1234567> 89 boxes',
    code: 'ambiguous_phone',
  },
  {
    name: 'refuses bare digit groups that read as a national number for the default region',
    input: '415 555 0123 hi',
    options: us,
    code: 'ambiguous_phone',
    mentions: ['#415', '+1 415 555 0123'],
  },
  {
    name: 'refuses bare digit groups that read as an international number without the +',
    input: '44 20 7946 0958 hi',
    code: 'ambiguous_phone',
    mentions: ['#44', '+44 20 7946 0958'],
  },
  {
    name: 'refuses a US number with its country code but without the +',
    input: '1 415 555 0123 hi',
    code: 'ambiguous_phone',
    mentions: ['#1'],
  },
  {
    name: 'refuses an Indian mobile number written without the trunk 0 when the default region is IN',
    input: '98765 43210 hi',
    options: { ...base, defaultRegion: 'IN' },
    code: 'ambiguous_phone',
    mentions: ['#98765', '+91 98765 43210'],
  },
  {
    name: 'refuses a UK number written without the trunk 0 when the default region is GB',
    input: '20 7946 0958 hi',
    options: gb,
    code: 'ambiguous_phone',
  },
  {
    name: 'refuses a Slack tel link whose target has other digits than its label',
    input: '<tel:+14155550199|+1 415 555 0123> hi',
    code: 'ambiguous_phone',
  },
];

describe('parseTarget', () => {
  it.each(successes)('$name', ({ input, options, reference, text }) => {
    expect(parseTarget(input, options ?? base)).toEqual({ ok: true, value: { reference, text } });
  });

  it.each(failures)('$name', ({ input, options, code, mentions }) => {
    const result = parseTarget(input, options ?? base);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problem.code).toBe(code);
    for (const mention of mentions ?? []) expect(result.problem.message).toContain(mention);
    if (code === 'usage') expect(result.problem.message).toContain(REFERENCE_USAGE);
  });

  it('shows the correct usage with example references in every usage problem', () => {
    expect(REFERENCE_USAGE).toContain('/whatsapp send <conversation> <text>');
    for (const example of ['57', '#57', 'Chatwoot conversation link', '+44 20 7946 0958']) {
      expect(REFERENCE_USAGE).toContain(example);
    }
  });
});

interface ReferenceCase {
  name: string;
  input: string;
  options?: ReferenceOptions;
  expected: ConversationReference | ReferenceProblem['code'];
}

const references: ReferenceCase[] = [
  { name: 'reads a bare id', input: '57', expected: id(57) },
  { name: 'reads an id with #', input: '#57', expected: id(57) },
  { name: 'reads an id surrounded by whitespace', input: '  57\n', expected: id(57) },
  { name: 'reads a long bare id with the phone hint', input: '4155550123', expected: id(4155550123, true) },
  { name: 'reads a phone number', input: '+44 20 7946 0958', expected: phone('+442079460958', 'GB') },
  {
    name: 'reads a whole variable-length number without calling it ambiguous',
    input: '+49 30 123 4567',
    expected: phone('+49301234567', 'DE'),
  },
  { name: 'reads a quoted phone number', input: '“+44 20 7946 0958”', expected: phone('+442079460958', 'GB') },
  {
    name: 'reads a Slack tel link',
    input: '<tel:+14155550123|+1 415 555 0123>',
    expected: phone('+14155550123', 'US'),
  },
  { name: 'reads a conversation link', input: `${CW}/team/2/conversations/57`, expected: url(57) },
  { name: 'reads a Slack-wrapped conversation link', input: `<${CW}/conversations/57|link>`, expected: url(57) },
  {
    name: 'reads a national number with a default region',
    input: '020 7946 0958',
    options: gb,
    expected: phone('+442079460958', 'GB'),
  },
  {
    name: 'reads national digit groups with a default region',
    input: '415 555 0123',
    options: us,
    expected: phone('+14155550123', 'US'),
  },
  { name: 'refuses 057 with no default region', input: '057', expected: 'national_without_region' },
  { name: 'refuses 057 as too short with a default region', input: '057', options: gb, expected: 'invalid_phone' },
  { name: 'refuses a reference followed by text', input: '57 hi', expected: 'usage' },
  { name: 'refuses a phone number followed by text', input: '+44 20 7946 0958 hi', expected: 'usage' },
  { name: 'refuses a link followed by text', input: `${CW}/conversations/57 hi`, expected: 'usage' },
  { name: 'refuses empty input', input: '   ', expected: 'usage' },
  { name: 'refuses a name', input: 'Bob', expected: 'usage' },
  { name: 'refuses a number that is too short', input: '+44 20 7946', expected: 'invalid_phone' },
  {
    name: 'refuses a link to another account',
    input: `${CW.replace('/1', '/2')}/conversations/57`,
    expected: 'wrong_account',
  },
  {
    name: 'refuses a link to another host',
    input: 'https://evil.test/app/accounts/1/conversations/57',
    expected: 'wrong_host',
  },
  { name: 'refuses a phone number split over two lines', input: '+44 20\n7946 0958', expected: 'usage' },
];

describe('parseReference', () => {
  it.each(references)('$name', ({ input, options, expected }) => {
    const result = parseReference(input, options ?? base);
    if (typeof expected === 'string') {
      expect(result.ok ? result.value : result.problem.code).toBe(expected);
    } else {
      expect(result).toEqual({ ok: true, value: expected });
    }
  });
});

describe('referenceKey and describeReference', () => {
  it.each([
    { name: 'an id', reference: id(57), key: 'id:57', description: '#57' },
    {
      name: 'an id that looks like a phone number',
      reference: id(4155550123, true),
      key: 'id:4155550123',
      description: '#4155550123',
    },
    { name: 'a link', reference: url(57), key: 'id:57', description: '#57' },
    {
      name: 'a UK phone number',
      reference: phone('+442079460958', 'GB'),
      key: 'phone:+442079460958',
      description: '+44 20 7946 0958',
    },
    {
      name: 'a US phone number',
      reference: phone('+14155550123', 'US'),
      key: 'phone:+14155550123',
      description: '+1 415 555 0123',
    },
  ])('keys and describes $name', ({ reference, key, description }) => {
    expect(referenceKey(reference)).toBe(key);
    expect(describeReference(reference)).toBe(description);
  });
});
